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
        gc.enable()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_memory_trims_the_heap_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert memory.release_memory() is True


def test_release_memory_only_collects_without_malloc_trim(monkeypatch):
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory.release_memory() is False
    finally:
        memory._malloc_trim.cache_clear()


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


def test_the_pipeline_trims_after_each_training_step(tmp_path, tiny_bert_dir, monkeypatch):
    """A real (tiny) contrastive stage through run_recipe: the callback is in the trainer and runs at every step."""
    from st_plus.training.pipeline import run_recipe
    from st_plus.training.recipe import load_recipe

    trims = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(True) or True)
    rows = "".join(f'{{"anchor": "title {i}", "positive": "description number {i}"}}\n' for i in range(8))
    (tmp_path / "pairs.jsonl").write_text(rows)
    (tmp_path / "recipe.yaml").write_text(
        f"name: r\nprecision: fp32\nmodel: {{base: {tiny_bert_dir}}}\n"
        "stages:\n  contrastive:\n    data: [pairs.jsonl]\n    batch_size: 4\n    evaluate: none\n"
    )
    run_recipe(load_recipe(tmp_path / "recipe.yaml"), output_dir=tmp_path / "out", show_progress_bar=False)
    steps = json.loads((tmp_path / "out" / "pipeline_state.json").read_text())["done"]["contrastive"]["steps"]
    assert steps == 2 and len(trims) == steps + 1  # after each step, then the finished stage's release
