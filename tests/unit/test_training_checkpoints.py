"""A killed run resumes from the newest checkpoint that was written to the end."""

from pathlib import Path

from llm_engineering.model.training.trainer import last_complete_checkpoint


def _checkpoint(root: Path, step: int, *, complete: bool) -> None:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    if complete:
        (folder / "trainer_state.json").write_text("{}")


def test_a_checkpoint_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 2, complete=True)
    _checkpoint(tmp_path, 10, complete=True)  # numeric order, not text order: 10 > 4
    _checkpoint(tmp_path, 4, complete=True)
    _checkpoint(tmp_path, 12, complete=False)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


def test_no_complete_checkpoint_means_a_fresh_start(tmp_path: Path) -> None:
    assert last_complete_checkpoint(tmp_path) is None
    _checkpoint(tmp_path, 2, complete=False)
    assert last_complete_checkpoint(tmp_path) is None
