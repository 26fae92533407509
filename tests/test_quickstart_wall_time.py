"""benchmarks/quickstart_wall_time.py: timings parsed from `/usr/bin/time -v st-plus train` logs, checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart_wall_time.py"

LOG = """\
INFO st_plus.evaluation.suite: Evaluated 10 tasks in 50.0s; encoded 16873 distinct texts for 23587 requested.
INFO st_plus.training.pipeline: Stage contrastive done: {{'steps': 33, 'seconds': {s1}}}
INFO st_plus.mining.filtering: kept 1,972 of 2,048 rows (76 dropped: 76 positive not in top 3, 0 score < None), 9.5s
INFO st_plus.training.pipeline: Consistency filter: kept 1,972 of 2,048 rows (76 dropped), 9.5s; dropped rows in x
INFO st_plus.mining.miner: mined 640 of 640 rows (0 dropped), 3 negatives per row, method hybrid, 2.5s; 93 text(s)
INFO st_plus.training.pipeline: Stage multitask done: {{'steps': 55, 'seconds': {s2}}}
INFO st_plus.evaluation.suite: Evaluated 10 tasks in 60.0s; encoded 16873 distinct texts for 23587 requested.
\tElapsed (wall clock) time (h:mm:ss or m:ss): {wall}
\tMaximum resident set size (kbytes): 2097152
"""


def test_parses_a_log_and_pairs_the_factors(tmp_path):
    module = load_script(SCRIPT, "quickstart_wall_time")
    before = tmp_path / "before.log"
    before.write_text(LOG.format(s1=100.0, s2=200.0, wall="7:00.00"))
    after = tmp_path / "after.log"
    after.write_text(LOG.format(s1=50.0, s2=150.0, wall="1:05:00.5"))

    run = module.parse_log(before)
    assert run["wall"] == 420.0 and run["peak_rss_mb"] == 2048 and run["training"] == 300.0
    assert run["evaluations"] == [50.0, 60.0] and run["filter"] == 9.5 and run["mining"] == 2.5
    assert run["other"] == 420.0 - 300.0 - 110.0 - 9.5 - 2.5  # only the filter's own line counts
    assert module.parse_log(after)["wall"] == 3900.5

    record = module.compare({"before": [before], "after": [before]})
    assert record["factors"] == [{"whole_run": 1.0, "training": 1.0, "stage contrastive": 1.0, "stage multitask": 1.0}]
    after.write_text(LOG.format(s1=50.0, s2=150.0, wall="5:00.00"))
    factors = module.compare({"before": [before], "after": [after]})["factors"][0]
    assert factors["whole_run"] == 1.4 and factors["training"] == 1.5 and factors["stage contrastive"] == 2.0
    assert "| before 1 | 420.0 s | 100.0 s | 200.0 s | 50.0 + 60.0 s |" in module.markdown(
        module.compare({"before": [before], "after": [after]}))


def test_refuses_a_log_without_the_time_report_or_unpaired_arms(tmp_path):
    module = load_script(SCRIPT, "quickstart_wall_time")
    log = tmp_path / "run.log"
    log.write_text(LOG.format(s1=1.0, s2=1.0, wall="1:00.00").split("\tElapsed")[0])
    with pytest.raises(ValueError, match="no `/usr/bin/time -v` report"):
        module.parse_log(log)
    log.write_text(LOG.format(s1=1.0, s2=1.0, wall="1:00.00"))
    with pytest.raises(ValueError, match="different numbers of runs"):
        module.compare({"before": [log, log], "after": [log]})
