"""Every number shown is earned: README's table and results/ agree with the committed JSON."""

import importlib.util
import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_results():
    spec = importlib.util.spec_from_file_location(
        "make_results", ROOT / "benchmarks" / "make_results.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_block(make_results) -> str:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(make_results.BEGIN), text.index(make_results.END)
    return text[start : end + len(make_results.END)]


def test_readme_table_matches_summary_json(make_results):
    """Rerun `python benchmarks/make_results.py --readme-only` when this fails."""
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    expected = make_results.readme_table(summary, make_results.seed_reference())
    assert readme_block(make_results) == expected


def test_summary_steps_are_computed_from_the_committed_histories(make_results):
    """summary.json's steps entry is what the committed histories give (rerun make_results)."""
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    assert summary["steps"] == make_results.steps_summary(make_results.seed_reference())


def test_results_readme_matches_summary_json(make_results):
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    expected = make_results.results_readme(summary, make_results.seed_reference())
    assert (ROOT / "results" / "README.md").read_text() == expected


def test_frontier_std_is_the_sample_std():
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    for name, entry in summary["frontier"].items():
        if len(entry["finals"]) > 1 and "std" in entry:
            assert entry["std"] == pytest.approx(statistics.stdev(entry["finals"])), name


def test_mean_std_uses_sample_std_and_states_it(make_results):
    assert make_results.mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00"  # n - 1: std 1, not 0.82
    assert "n − 1" in readme_block(make_results)


def test_seed_numbers_have_one_home(make_results):
    """The seed's best test accuracies come from results/seed_reference.json alone."""
    reference = make_results.seed_reference()
    assert make_results.seed_best_test(reference, "step7") == max(
        reference["runs"]["step7"][0]["test_acc"]
    )
    for script in (ROOT / "benchmarks").glob("*.py"):
        assert "SEED_BEST_TEST" not in script.read_text(), script


@pytest.fixture(scope="module")
def deploy():
    pytest.importorskip("onnxruntime", reason="benchmarks/deploy.py needs the export extra")
    spec = importlib.util.spec_from_file_location("deploy", ROOT / "benchmarks" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_md_is_rendered_from_deploy_json(deploy):
    """Rerun `python benchmarks/deploy.py --render results/deploy.json --out results`."""
    result = json.loads((ROOT / "results" / "deploy.json").read_text())
    assert (ROOT / "results" / "deploy.md").read_text() == deploy.render(result)


def test_deploy_provenance_names_the_command_of_each_row(deploy):
    """A row measured again later names its own command, not the first run's."""
    result = {
        "command": "deploy --models a b",
        "models": [
            {"model": "a", "command": "deploy --models a b"},
            {"model": "b", "command": "deploy --models b"},
            {"model": "c"},  # recorded before rows kept their command
        ],
    }
    assert deploy._provenance(result) == ("`deploy --models a b` (a, c), `deploy --models b` (b)")
    del result["models"][1]
    assert deploy._provenance(result) == "`deploy --models a b`"
