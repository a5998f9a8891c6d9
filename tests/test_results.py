"""Every number shown is earned: README's table and results/ agree with the committed JSON."""

import importlib.util
import json
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """benchmarks/NAME.py as a module, imported as `python benchmarks/NAME.py` runs it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.fixture(scope="module")
def make_results():
    return load_script("make_results")


def readme_block(make_results) -> str:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(make_results.BEGIN), text.index(make_results.END)
    return text[start : end + len(make_results.END)]


def test_readme_table_matches_summary_json(make_results):
    """Rerun `python benchmarks/make_results.py --readme-only` when this fails."""
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    expected = make_results.readme_table(summary, make_results.notebook_reference())
    assert readme_block(make_results) == expected


def test_summary_steps_are_computed_from_the_committed_histories(make_results):
    """summary.json's steps entry is what the committed histories give (rerun make_results)."""
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    assert summary["steps"] == make_results.steps_summary(make_results.notebook_reference())


def test_results_readme_matches_summary_json(make_results):
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    expected = make_results.results_readme(summary, make_results.notebook_reference())
    assert (ROOT / "results" / "README.md").read_text() == expected


def test_frontier_std_is_the_sample_std():
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    for name, entry in summary["frontier"].items():
        if len(entry["finals"]) > 1 and "std" in entry:
            assert entry["std"] == pytest.approx(statistics.stdev(entry["finals"])), name


def test_mean_std_uses_sample_std_and_states_it(make_results):
    assert make_results.mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00"  # n - 1: std 1, not 0.82
    assert "n − 1" in readme_block(make_results)


def test_notebook_numbers_have_one_home(make_results):
    """The notebooks' best test accuracies come from results/notebook_reference.json alone."""
    reference = make_results.notebook_reference()
    assert make_results.notebook_best_test(reference, "step7") == max(
        reference["runs"]["step7"][0]["test_acc"]
    )
    for script in (ROOT / "benchmarks").glob("*.py"):
        assert "NOTEBOOK_BEST_TEST" not in script.read_text(), script


def test_speed_page_is_rendered_from_the_committed_json(tmp_path):
    """Every section of benchmarks/RESULTS.md is what its template renders from its JSON.

    Rerun `python benchmarks/results_md.py` when this fails.
    """
    committed = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    page = tmp_path / "RESULTS.md"
    page.write_text(committed)
    results_md = load_script("results_md")
    results_md.write(page)
    assert page.read_text() == committed
    sections = {
        line.split()[2] for line in committed.splitlines() if line.startswith("<!-- begin ")
    }
    assert sections == set(results_md.sections())
    for key in sections:  # each section has its JSON, in the one shape
        data = json.loads((ROOT / "benchmarks" / f"{key}.json").read_text())
        assert list(data) == ["name", "command", "machine", "settings", "rows"], key
        assert data["name"] == key and data["machine"]["summary"] in committed


def test_a_section_without_its_measured_part_leaves_out_its_paragraph():
    """A part not measured (no rows) drops the paragraph that shows it, not the section."""
    results_md = load_script("results_md")
    data = json.loads((ROOT / "benchmarks" / "gpu_speed.json").read_text())
    full = results_md.render("gpu_speed", data)
    data["rows"] = [row for row in data["rows"] if row["part"] != "multi_seed"]
    text = results_md.render("gpu_speed", data)
    assert "--stack-mode MODE" in full and "--stack-mode MODE" not in text
    assert "| stack mode |" not in text and "| network | step |" in text


def test_only_paragraphs_of_parts_not_measured_are_left_out():
    """A template paragraph goes missing only when it names a part that has no rows (so a
    misspelt field in templates/RESULTS.md fails here rather than dropping its paragraph)."""
    import re

    results_md, common = load_script("results_md"), load_script("common")
    for key, template in results_md.sections().items():
        data = json.loads((ROOT / "benchmarks" / f"{key}.json").read_text())
        parts = {row["part"]: [] for row in data["rows"] if "part" in row}
        for row in data["rows"]:
            parts.get(row.get("part"), []).append(row)
        declared = set(re.findall(r"^@(\w+) ", template, re.M)) - {"rows"}  # its tables' parts
        for paragraph in template.split("\n\n")[1:]:
            if common.fill(paragraph + "\n", **data, **parts) == "":
                named = set(re.findall(r"^@(\w+) |\{(\w+)\[", paragraph, re.M))
                named = {a or b for a, b in named} & declared
                assert named - set(parts), (key, paragraph[:80])


@pytest.fixture(scope="module")
def deploy():
    pytest.importorskip("onnxruntime", reason="benchmarks/deploy.py needs the export extra")
    return load_script("deploy")


def test_deploy_md_is_rendered_from_deploy_json(deploy):
    """Rerun `python benchmarks/deploy.py --render results/deploy.json --out results`."""
    result = json.loads((ROOT / "results" / "deploy.json").read_text())
    assert (ROOT / "results" / "deploy.md").read_text() == deploy.render(result)


def test_deploy_provenance_names_the_command_of_each_row(deploy):
    """A row measured again later names its own command, not the first run's."""
    result = {
        "command": "deploy --models a b",
        "rows": [
            {"model": "a", "command": "deploy --models a b"},
            {"model": "b", "command": "deploy --models b"},
            {"model": "c"},  # recorded before rows kept their command
        ],
    }
    assert deploy._provenance(result) == ("`deploy --models a b` (a, c), `deploy --models b` (b)")
    del result["rows"][1]
    assert deploy._provenance(result) == "`deploy --models a b`"


def test_deploy_bytes_verdict_names_each_int8_file_larger_than_its_fp32_file(deploy):
    """The bytes table's verdict: which int8 files do not pay for themselves in bytes."""
    committed = json.loads((ROOT / "results" / "deploy.json").read_text())
    onnx = {**next(r for r in committed["rows"] if r["part"] == "onnx"), "command": "x"}
    onnx["fp32"] = {**onnx["fp32"], "file_bytes": 1000}
    onnx["int8"] = {**onnx["int8"], "file_bytes": 400}
    size = {"file_bytes": 1000, "accuracy": 99.0}
    sizes = {"part": "bytes", "model": onnx["model"], "params": onnx["params"], "command": "x",
             "pt": size, "safetensors": size, "pte_fp32": size,
             "onnx_int8_weights": {**size, "file_bytes": 300},
             "pte_int8": {**size, "file_bytes": 1200}}  # fmt: skip
    result = {**committed, "command": "x", "rows": [onnx, sizes]}
    text = deploy.render(result)
    assert f"int8 does **not** pay for itself in bytes for: {onnx['model']} (pte)." in text
    assert "ONNX yes (-60%), weights only yes (-70%); .pte **no** (+20%)" in text
    sizes["pte_int8"] = {**size, "file_bytes": 999}
    text = deploy.render(result)
    assert "Every int8 file is smaller than its fp32 file." in text
    assert "does **not** pay" not in text


@pytest.fixture(scope="module")
def make_frontier():
    return load_script("make_frontier")


def test_frontier_pages_match_the_committed_json(make_frontier):
    """Rerun `python benchmarks/make_frontier.py` when this fails."""
    anchors = json.loads((ROOT / "results" / "frontier" / "anchors.json").read_text())
    records = json.loads((ROOT / "results" / "frontier" / "search.json").read_text())
    summary = json.loads((ROOT / "results" / "summary.json").read_text())
    assert summary["frontier"] == make_frontier.frontier_summary(anchors)
    page = make_frontier.frontier_page(summary["frontier"], records)
    assert (ROOT / "results" / "frontier.md").read_text() == page
    search = make_frontier.search_page(records)
    assert (ROOT / "results" / "frontier_search.md").read_text() == search


FRONTIER_JSON = ("targets.json", "anchors.json", "search.json")


def test_frontier_page_reads_top_to_bottom(make_frontier):
    """Our models beside the published ones (no target there), the per-seed details, each
    model against its target with why it falls short, the plot, then the choices."""
    text = (ROOT / "results" / "frontier.md").read_text()
    table = text.index("| model | parameters | test accuracy, mean ± std |")
    assert "target" not in text[table : text.index("\n", table)].lower()  # beside published ones
    details = text.index("| model | test accuracy per seed |")
    targets = text.index("## Against the targets")
    plot, choices = text.index("](frontier.png)"), text.index("## How each design was chosen")
    assert table < details < targets < plot < choices
    folder = ROOT / "results" / "frontier"
    goals, anchors, records = (json.loads((folder / f).read_text()) for f in FRONTIER_JSON)
    summary = make_frontier.frontier_summary(anchors)
    for row in make_frontier.target_rows(summary, records, goals):  # short of it: says why
        assert row["short"] == "met" or row["why"] == goals["why"][row["name"]] != ""
        assert f"- **{row['name']}**: {row['why']}" in text[targets:plot]
    for name in make_frontier.MODELS:  # at most five lines on how each model was chosen
        lines = make_frontier.choices(name, records)
        assert 2 <= len(lines) <= 5 and "Chosen:" in lines[1], lines
        assert "\n".join(lines) in text[choices:]


def test_every_seed_of_the_recipes_validation_runs_is_marked_chosen(make_frontier):
    """The search page marks as chosen the same runs the frontier page scores the recipe by."""
    records = json.loads((ROOT / "results" / "frontier" / "search.json").read_text())
    for name in make_frontier.MODELS:
        _, chosen, _ = make_frontier._candidates(name, records)
        marked = [r for r in records if r["model"] == name and make_frontier.is_chosen(r)]
        assert chosen is not None and marked == chosen, name
    lite1k = [r["seed"] for r in records if r["model"] == "lite1k" and make_frontier.is_chosen(r)]
    assert sorted(lite1k) == [1, 2, 3]  # seed 1 from the first search, seeds 2-3 from later


def test_best_anchor_is_the_most_accurate_within_the_budget(make_frontier):
    anchors = {
        "budgets": {"lite5k": 5000, "lite600": 600},
        "anchors": [
            {"name": "a", "params": 4900, "accuracy": 99.1},
            {"name": "b", "params": 3000, "accuracy": 99.3},
            {"name": "c", "params": 5001, "accuracy": 99.9},
        ],
    }
    assert make_frontier.best_anchor("lite5k", anchors)["name"] == "b"
    assert make_frontier.best_anchor("lite600", anchors) is None


def test_ingest_takes_seed_folders(make_frontier, tmp_path, monkeypatch):
    """Runs in the `OUT/seed-S/history.json` layout: a full run of the registered recipe
    becomes results/frontier/MODEL/history-seedS.json, a validation run a search record."""
    frontier = tmp_path / "results" / "frontier"
    monkeypatch.setattr(make_frontier, "FRONTIER", frontier)
    monkeypatch.setattr(make_frontier, "SEARCH", frontier / "search.json")
    history = json.loads((ROOT / "results/frontier/lite600/history-seed1.json").read_text())
    del history["meta"]["machine"]
    runs = tmp_path / "runs" / "lite600"
    for seed, images in ((4, 60_000), (5, 50_000)):
        history["meta"].update(seed=seed, train_images=images)
        (runs / f"seed-{seed}").mkdir(parents=True)
        (runs / f"seed-{seed}" / "history.json").write_text(json.dumps(history))
    make_frontier.ingest([tmp_path / "runs"], machine="NVIDIA H100")
    copied = json.loads((frontier / "lite600" / "history-seed4.json").read_text())
    assert copied["meta"]["machine"] == "NVIDIA H100" and copied["batch_losses"] == []
    assert not (frontier / "lite600" / "history-seed5.json").exists()
    (record,) = json.loads((frontier / "search.json").read_text())
    assert (record["model"], record["seed"], record["split"]) == ("lite600", 5, "validation")
    assert record["val_acc_final"] == history["epochs"][-1]["test_acc"]
    make_frontier.ingest([tmp_path / "runs"])  # taking the same runs in again adds nothing
    assert len(json.loads((frontier / "search.json").read_text())) == 1
    history["meta"].update(seed=1, train_images=50_000)  # a recipe not registered:
    history["meta"]["recipe"] = {**history["meta"]["recipe"], "lr": 0.2}
    for kind, images in (("validation", 50_000), ("full", 60_000)):  # its two runs of seed 1
        history["meta"]["train_images"] = images
        (tmp_path / kind / "seed-1").mkdir(parents=True)
        (tmp_path / kind / "seed-1" / "history.json").write_text(json.dumps(history))
        make_frontier.ingest([tmp_path / kind])  # one after the other
    records = json.loads((frontier / "search.json").read_text())
    assert [(r["seed"], r["split"]) for r in records[1:]] == [(1, "validation"), (1, "test")]
