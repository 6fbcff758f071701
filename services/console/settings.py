"""The console's settings (``CONSOLE_``…): loaded once in ``services.console.__main__`` and
passed down; nothing else reads the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import CommonSettings


class ConsoleSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONSOLE_", frozen=True, populate_by_name=True, extra="ignore"
    )

    http_port: int = 8005
    ingestor_url: str = "http://127.0.0.1:8001"
    classifier_url: str = "http://127.0.0.1:8002"
    router_url: str = "http://127.0.0.1:8003"
    notifier_url: str = "http://127.0.0.1:8004"
    notifier_public_url: str | None = Field(
        None,
        description="Base of the notifier's iCal feed links as people reach it (default: notifier_url)",
    )
    session_ttl_s: int = Field(
        8 * 3600, ge=60, le=7 * 24 * 3600, description="Absolute session lifetime"
    )
    session_idle_s: int = Field(3600, ge=60, description="A session unused this long ends")
    cookie_secure: bool = Field(
        True,
        description="Secure cookie flag; browsers honour it on https and on http://localhost / 127.0.0.1",
    )
    backend_timeout_s: float = Field(5.0, gt=0)
    queue_page_size: int = Field(50, ge=5, le=500)
    # development sign-in: a one-time code that signs in with this token (`make run` sets both)
    signin_token: SecretStr | None = Field(
        None, description="Token the one-time sign-in link signs in with (development only)"
    )
    signin_code: SecretStr | None = Field(
        None, description="The one-time code of /signin/once?code=… (development only)"
    )

    @model_validator(mode="after")
    def _one_time_link_only_in_development(self) -> "ConsoleSettings":
        if self.environment != "development" and (self.signin_code or self.signin_token):
            raise ValueError(
                "CONSOLE_SIGNIN_CODE / CONSOLE_SIGNIN_TOKEN are for development only: "
                "people sign in with their own token"
            )
        return self
