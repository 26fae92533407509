"""release_memory: collects reference cycles and trims glibc's heap where there is one."""

from __future__ import annotations

import json
import sys
import weakref

import pytest

from st_plus.training import memory


class _Node:
    pass


def test_release_memory_collects_a_reference_cycle():
    import gc

    was_enabled = gc.isenabled()
    gc.disable()  # the cycle must be freed by release_memory, not by an automatic collection
    try:
        node = _Node()
        node.self = node  # a cycle, as a finished trainer and its callbacks form
        alive = weakref.ref(node)
        del node
        assert alive() is not None
        memory.release_memory()
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_memory_trims_the_heap_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert memory.release_memory() is True


def test_there_is_no_malloc_trim_outside_linux(monkeypatch):
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
    finally:
        memory._malloc_trim.cache_clear()


def test_release_memory_only_collects_without_malloc_trim(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release_memory() is False


def test_release_memory_callback_trims_every_n_steps(monkeypatch):
    from types import SimpleNamespace

    trims = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(True) or True)
    callback = memory.ReleaseMemoryCallback(every_steps=2)
    for step in range(1, 6):
        callback.on_step_end(None, SimpleNamespace(global_step=step), None)
    assert len(trims) == 2  # steps 2 and 4
    with pytest.raises(ValueError, match="every_steps"):
        memory.ReleaseMemoryCallback(every_steps=0)


@pytest.mark.parametrize("trim_memory", [True, False])
def test_the_pipeline_trims_after_each_training_step_when_asked(tmp_path, tiny_bert_dir, monkeypatch, trim_memory):
    """A real (tiny) contrastive stage through run_recipe: with ``trim_memory`` the callback runs at every step."""
    from st_plus.training.pipeline import run_recipe
    from st_plus.training.recipe import load_recipe

    trims = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(True) or True)
    rows = "".join(f'{{"anchor": "title {i}", "positive": "description number {i}"}}\n' for i in range(8))
    (tmp_path / "pairs.jsonl").write_text(rows)
    (tmp_path / "recipe.yaml").write_text(
        f"name: r\nprecision: fp32\ntrim_memory: {str(trim_memory).lower()}\nmodel: {{base: {tiny_bert_dir}}}\n"
        "stages:\n  contrastive:\n    data: [pairs.jsonl]\n    batch_size: 4\n    evaluate: none\n"
    )
    run_recipe(load_recipe(tmp_path / "recipe.yaml"), output_dir=tmp_path / "out", show_progress_bar=False)
    steps = json.loads((tmp_path / "out" / "pipeline_state.json").read_text())["done"]["contrastive"]["steps"]
    # after each step when asked; the finished stage's release always
    assert steps == 2 and len(trims) == (steps if trim_memory else 0) + 1


def test_a_run_resumes_with_trim_memory_turned_on_or_missing(tmp_path, tiny_bert_dir):
    """trim_memory changes no result: a run that ran out of memory resumes with it added (or from before the key)."""
    import yaml

    from st_plus.training.pipeline import RECIPE_FILE, STATE_FILE, _prepare_output
    from st_plus.training.recipe import RecipeError, load_recipe, recipe_to_dict

    (tmp_path / "pairs.jsonl").write_text('{"anchor": "a", "positive": "b"}\n')
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\nmodel: {{base: {tiny_bert_dir}}}\nstages:\n  contrastive:\n    data: [pairs.jsonl]\n")
    out = tmp_path / "run"
    out.mkdir()
    old = {k: v for k, v in recipe_to_dict(load_recipe(path)).items() if k != "trim_memory"}
    (out / RECIPE_FILE).write_text(yaml.safe_dump(old, sort_keys=False))
    (out / STATE_FILE).write_text(json.dumps({"length_unit": "tokens", "done": {}, "evaluations": {}}))
    assert _prepare_output(out, load_recipe(path), resume=True, overwrite=False)["done"] == {}
    path.write_text(path.read_text().replace("name: r\n", "name: r\ntrim_memory: true\n"))
    recipe = load_recipe(path)
    assert _prepare_output(out, recipe, resume=True, overwrite=False)["done"] == {}
    assert recipe.trim_memory is True  # the resumed run trims
    path.write_text(path.read_text().replace("name: r\n", "name: r\nseed: 7\n"))
    with pytest.raises(RecipeError, match="seed"):  # a key that changes results still refuses
        _prepare_output(out, load_recipe(path), resume=True, overwrite=False)
