"""Platform deliveries for the ingestor's conformance suite, written by the team from the platforms'
published payload shapes (Graph API webhooks reference for Page ``feed`` / ``mention`` and
Instagram ``comments`` / ``live_comments``, including the App Dashboard's "Test" samples; WhatsApp
Cloud API ``messages`` webhook incl. business-scoped user ids and every customer message type;
X Account Activity; Telegram Bot API ``Update``/``Message``). Ids are made up; times are
``T0`` = 2026-01-02T10:00:00Z. Kept in the tests, not in the production package.
"""

from __future__ import annotations

T0 = 1_767_348_000
PAGE = "1029"
IG = "17841400001"
PHONE_ID = "106540352242922"
X_ACCOUNT = "2244994945"
BSUID = "US.13491208655302741918"


def meta(obj: str, *entries: dict) -> dict:
    return {"object": obj, "entry": list(entries)}


# --- Facebook Page -------------------------------------------------------------------------------


def page(*changes: dict, page_id: str = PAGE) -> dict:
    return {"id": page_id, "time": T0, "changes": list(changes)}


def feed_comment(
    comment_id: str = "1029_77_501",
    verb: str = "add",
    message: str = "Where is my parcel?",
    author: dict | None = None,
    **extra,
) -> dict:
    """A feed ``comment`` change; ``author`` replaces ``from`` (None: the documented ``from``)."""
    value = {
        "item": "comment",
        "verb": verb,
        "post_id": "1029_77",
        "comment_id": comment_id,
        "parent_id": "1029_77",
        "created_time": T0,
        "message": message,
    }
    value |= {"from": {"id": "6012", "name": "Jana K."}} if author is None else author
    return {"field": "feed", "value": value | extra}


def feed_comment_by_sender(comment_id: str = "1029_77_601") -> dict:
    """Older Graph versions (and some current ones) name the author in sender_id/sender_name only."""
    return feed_comment(
        comment_id,
        message="Still waiting for my refund",
        author={"sender_id": "6013", "sender_name": "Ola N."},
    )


def feed_post_by_page(post_id: str = "1029_90") -> dict:
    """The Page's own status update: like a Messenger echo, not a customer's message."""
    return {
        "field": "feed",
        "value": {
            "item": "status",
            "verb": "add",
            "post_id": post_id,
            "published": 1,
            "created_time": T0,
            "message": "Our summer sale starts today!",
            "from": {"id": PAGE, "name": "Acme"},
        },
    }


def page_field_without_value(field: str = "parking") -> dict:
    return {"field": field}


def page_mention(
    post_id: str = "4444_5555", comment_id: str | None = None, message: str | None = None
) -> dict:
    """``mention``: the Page was @mentioned in someone's post (or comment on it)."""
    value = {
        "post_id": post_id,
        "sender_name": "Kim L.",
        "sender_id": "4444",
        "item": "comment" if comment_id else "post",
        "verb": "add",
        "created_time": T0,
    }
    if comment_id:
        value["comment_id"] = comment_id
    if message is not None:
        value["message"] = message
    return {"field": "mention", "value": value}


# --- Instagram -----------------------------------------------------------------------------------


def instagram_test_button(field: str = "comments") -> dict:
    """What the App Dashboard "Test" button sends for comments / live_comments: the sample value
    (from, media, id, text; parent_id for comments) in an entry with id "0" and no time."""
    value = {
        "from": {"id": "232323232", "username": "test"},
        "media": {
            "id": "123123123",
            "media_product_type": "FEED" if field == "comments" else "LIVE",
        },
        "id": "17865799348089039" if field == "comments" else "17865799348089040",
        "text": "This is an example.",
    }
    if field == "comments":
        value["parent_id"] = "1231231234"
    return {
        "object": "instagram",
        "entry": [{"id": "0", "changes": [{"field": field, "value": value}]}],
    }


def instagram_bare_comment() -> dict:
    """The older "Test" sample: only the comment's id and text."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": T0,
                "changes": [
                    {
                        "field": "comments",
                        "value": {"id": "17865799348089041", "text": "This is an example."},
                    }
                ],
            }
        ],
    }


def instagram_comment(
    comment_id: str, user_id: str = "23001", text: str = "Love it but it broke"
) -> dict:
    return {
        "field": "comments",
        "value": {
            "id": comment_id,
            "from": {"id": user_id, "username": "mia.b"},
            "text": text,
            "media": {"id": "17950001", "media_product_type": "FEED"},
        },
    }


# --- WhatsApp Cloud API --------------------------------------------------------------------------


def whatsapp(
    messages: list[dict], contacts: list[dict] | None = None, statuses: list[dict] | None = None
) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
    }
    value["contacts"] = (
        contacts
        if contacts is not None
        else [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]
    )
    if messages:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return meta(
        "whatsapp_business_account",
        {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]},
    )


def wa(kind: str, wamid: str, content: object, sender: str = "16505551234", **extra) -> dict:
    return {"from": sender, "id": wamid, "timestamp": str(T0), "type": kind, kind: content} | extra


def wa_text(
    wamid: str, body: str = "Does it come in another color?", sender: str = "16505551234"
) -> dict:
    return wa("text", wamid, {"body": body}, sender)


def wa_bsuid_text(wamid: str, body: str = "Hi, I paid twice") -> dict:
    """A user with a username and a hidden phone number: business-scoped id, no ``from``."""
    return {
        "from_user_id": BSUID,
        "id": wamid,
        "timestamp": str(T0),
        "type": "text",
        "text": {"body": body},
    }


BSUID_CONTACT = {"profile": {"name": "Kerry Fisher", "username": "@kerryf"}, "user_id": BSUID}


def wa_bsuid_status() -> dict:
    return {
        "id": "wamid.OUT9",
        "status": "read",
        "timestamp": str(T0),
        "recipient_user_id": BSUID,
        "conversation": {"id": "c-1", "origin": {"type": "service"}},
        "pricing": {"billable": False, "category": "service"},
    }


def wa_button_reply(wamid: str = "wamid.BTN") -> dict:
    return wa(
        "interactive",
        wamid,
        {"type": "button_reply", "button_reply": {"id": "refund-yes", "title": "Yes, refund"}},
        context={"from": "15550783881", "id": "wamid.OUT1"},
    )


def wa_list_reply(wamid: str = "wamid.LIST") -> dict:
    return wa(
        "interactive",
        wamid,
        {
            "type": "list_reply",
            "list_reply": {
                "id": "topic-delivery",
                "title": "Delivery",
                "description": "Where is my order?",
            },
        },
    )


def wa_location(wamid: str = "wamid.LOC") -> dict:
    return wa(
        "location",
        wamid,
        {
            "latitude": 52.520008,
            "longitude": 13.404954,
            "name": "Acme Store Mitte",
            "address": "Alexanderplatz 1, Berlin",
        },
    )


def wa_contacts(wamid: str = "wamid.VCARD") -> dict:
    return wa(
        "contacts",
        wamid,
        [
            {
                "name": {
                    "formatted_name": "Max Muster",
                    "first_name": "Max",
                    "last_name": "Muster",
                },
                "phones": [{"phone": "+49 30 1234567", "wa_id": "49301234567", "type": "WORK"}],
                "emails": [{"email": "max@example.org", "type": "WORK"}],
            }
        ],
    )


def wa_order(wamid: str = "wamid.ORDER") -> dict:
    return wa(
        "order",
        wamid,
        {
            "catalog_id": "cat-77",
            "text": "Please deliver before Friday",
            "product_items": [
                {
                    "product_retailer_id": "SKU-1",
                    "quantity": 2,
                    "item_price": 9.99,
                    "currency": "EUR",
                },
                {
                    "product_retailer_id": "SKU-2",
                    "quantity": 1,
                    "item_price": 24.5,
                    "currency": "EUR",
                },
            ],
        },
    )


# --- X Account Activity --------------------------------------------------------------------------


def x_user(user_id: str = "3001", screen_name: str = "jana_k") -> dict:
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": "Jana K.",
        "screen_name": screen_name,
        "followers_count": 212,
    }


def x_tweet(
    tweet_id: str, user: dict | None = None, text: str = "@acme my order never arrived"
) -> dict:
    return {
        "created_at": "Fri Jan 02 10:00:00 +0000 2026",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "user": user or x_user(),
        "timestamp_ms": str(T0 * 1000),
        "entities": {},
    }


def x_delete(tweet_id: str, user_id: str) -> dict:
    return {"status": {"id": tweet_id, "user_id": user_id}, "timestamp_ms": str(T0 * 1000)}


# --- Telegram Bot API ----------------------------------------------------------------------------

GROUP = {"id": -100777, "type": "supergroup", "title": "Acme help"}
ANN = {"id": 5001, "is_bot": False, "first_name": "Ann", "username": "ann_t"}


def tg_message(update_id: int, **fields) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1000,
            "from": ANN,
            "chat": GROUP,
            "date": T0,
            **fields,
        },
    }


TELEGRAM_SERVICE = {
    "pinned_message": {
        "pinned_message": {"message_id": 3, "chat": GROUP, "date": T0, "text": "Opening hours"}
    },
    "new_chat_members": {
        "new_chat_members": [ANN],
        "new_chat_member": ANN,
        "new_chat_participant": ANN,
    },
    "left_chat_member": {"left_chat_member": ANN, "left_chat_participant": ANN},
    "new_chat_title": {"new_chat_title": "Acme help (official)"},
}
TELEGRAM_HOUSEKEEPING = {
    "update_id": 900,
    "my_chat_member": {
        "chat": GROUP,
        "from": ANN,
        "date": T0,
        "old_chat_member": {
            "user": {"id": 42, "is_bot": True, "first_name": "bot"},
            "status": "member",
        },
        "new_chat_member": {
            "user": {"id": 42, "is_bot": True, "first_name": "bot"},
            "status": "administrator",
        },
    },
}
