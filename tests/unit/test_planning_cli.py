"""The CLI on small synthetic CSVs (both shapes), its refusals, and a smoke test of the
research-data readers that skips where ../shared/datasets is absent."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from services.router.planning import anonbank, csvio
from services.router.planning.__main__ import DEFAULT_DATA, main


def _timestamps(path: Path, days: int, with_handle: bool = False, peak: int = 26) -> Path:
    rng = np.random.default_rng(3)
    start = datetime(2025, 3, 3)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "queue", *(["handle_s"] if with_handle else [])])
        for d in range(days):
            for s in range(48):
                n = rng.poisson(6 * np.exp(-(((s - peak) / 6) ** 2)) * (1 if (d % 7) < 5 else 0.4))
                for _ in range(n):
                    t = start + timedelta(days=d, minutes=30 * s, seconds=int(rng.uniform(0, 1800)))
                    w.writerow(
                        [
                            t.isoformat(),
                            "support-de",
                            *([int(rng.uniform(100, 500))] if with_handle else []),
                        ]
                    )
    return path


def test_plan_writes_a_table_and_a_plot_with_a_what_if_and_a_roster(tmp_path, capsys):
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        'team: de\ntimezone: UTC\npattern:\n  - {days: mon-fri, from: "09:00", to: "17:00", agents: 2}\n'
    )
    rc = main(
        [
            "plan",
            str(_timestamps(tmp_path / "a.csv", 21)),
            "--out",
            str(tmp_path / "out"),
            "--aht-s",
            "300",
            "--sla-s",
            "900",
            "--target",
            "0.8",
            "--days",
            "2",
            "--concurrency",
            "2",
            "--shrinkage",
            "0.2",
            "--roster",
            str(roster),
            "--volume-factor",
            "2",
            "--plot-format",
            "svg",
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "plan.csv")))
    assert len(rows) == 96 and {
        "forecast",
        "lower",
        "upper",
        "scheduled",
        "whatif_scheduled",
        "rostered",
    } <= set(rows[0])
    assert sum(int(r["whatif_scheduled"]) for r in rows) > sum(int(r["scheduled"]) for r in rows)
    assert (tmp_path / "out" / "support-de.svg").read_text().lstrip().startswith("<?xml")
    assert "support-de: method" in capsys.readouterr().out


def test_the_leads_question_tomorrow_evening_and_a_doubled_launch_in_one_call(tmp_path, capsys):
    # the history ends on Monday 2025-03-24 00:00: "tomorrow" is Tuesday the 25th
    csv_path = _timestamps(tmp_path / "a.csv", 21, peak=40)
    rc = main(
        [
            "plan", str(csv_path), "--out", str(tmp_path / "out"), "--aht-s", "600",
            "--sla-s", "1200", "--days", "2",
            "--start", "2025-03-25T18:00", "--end", "2025-03-25T22:00", "--volume-factor", "2",
        ]
    )  # fmt: skip
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "plan.csv")))
    assert [r["start"][11:16] for r in rows] == [
        f"{h:02d}:{m:02d}" for h in range(18, 22) for m in (0, 30)
    ]
    assert all(int(r["scheduled"]) >= 1 for r in rows)
    assert sum(int(r["whatif_scheduled"]) for r in rows) > sum(int(r["scheduled"]) for r in rows)
    out = capsys.readouterr().out
    assert "agent-hours, peak" in out and "what-if" in out


def test_plan_takes_handling_times_from_the_file(tmp_path):
    rc = main(
        [
            "plan",
            str(_timestamps(tmp_path / "a.csv", 9, with_handle=True)),
            "--out",
            str(tmp_path / "o"),
            "--days",
            "1",
            "--sla-s",
            "60",
        ]
    )
    assert rc == 0 and (tmp_path / "o" / "support-de.png").stat().st_size > 1000


def test_interval_counts_are_summed_to_the_interval_asked(tmp_path):
    path = tmp_path / "counts.csv"
    with open(path, "w") as fh:
        fh.write("date,interval_start,calls\n")
        for d in range(2):
            for k in range(240):
                fh.write(
                    f"2025-03-0{d + 3},{k * 6 // 60:02d}:{k * 6 % 60:02d},{1 if k % 2 else 2}\n"
                )
    s = csvio.read(path, interval_s=1800).series["default"]
    assert len(s.counts) == 96 and set(s.counts) == {7.0, 8.0}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "no handling time: pass --aht-s"),
        (["--aht-s", "300", "--target", "1.0"], "never answer 100 %"),
        (["--aht-s", "300", "--days", "30"], "choose 1 to 14"),
    ],
)
def test_bad_inputs_get_a_sentence_and_status_2(tmp_path, capsys, args, words):
    rc = main(
        ["plan", str(_timestamps(tmp_path / "a.csv", 9)), "--out", str(tmp_path / "o"), *args]
    )
    assert rc == 2 and words in capsys.readouterr().err


def test_too_little_history_is_explained(tmp_path, capsys):
    path = tmp_path / "a.csv"
    path.write_text("timestamp\n2025-03-03T10:00:00\n2025-03-03T10:05:00\n")
    rc = main(
        ["plan", str(path), "--out", str(tmp_path / "o"), "--aht-s", "300", "--interval-min", "15"]
    )
    assert rc == 2 and "at least one full day" in capsys.readouterr().err


def test_evaluate_skips_clearly_without_the_data(tmp_path, capsys):
    assert (
        main(["evaluate", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "e.json")])
        == 0
    )
    assert "skipped" in capsys.readouterr().out and not (tmp_path / "e.json").exists()


@pytest.mark.skipif(
    not (DEFAULT_DATA / anonbank.CALLS).exists(), reason="research data set not present"
)
def test_research_readers_handle_the_traps():
    calls = anonbank.read_calls(DEFAULT_DATA)
    # README: 31,094 sought an agent = 27,162 AGENT + 3,932 HANG after queueing; we drop the 491
    # NO_SERVER rows (not agent services) and 21 AGENT rows with neither queue nor service start
    assert sum(not c.served for c in calls) == 3932
    assert len(calls) == 30582
    first, counts, imputed = anonbank.read_arrivals(DEFAULT_DATA)
    assert len(counts) == 273 * 48 and imputed.sum() == 48
