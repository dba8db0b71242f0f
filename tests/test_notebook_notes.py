"""A notebook statement that fails while loading, and that no graded layer needs, is skipped
and said in the report's warnings (it never blocks the layers)."""

from pathlib import Path

from layercheck.reports.grading.checker import check_submission

NOTEBOOK = Path(__file__).parent / "students" / "good_notebook_scratch.ipynb"


def test_a_skipped_scratch_statement_is_a_warning_naming_its_cell_and_the_layers_pass() -> None:
    r = check_submission(NOTEBOOK, layers=("relu",), do_shrink=False)
    assert r.load_error is None and r.exit_code() == 0, (r.load_error, r.summary())
    skipped = [w for w in r.warnings if "skipped" in w]
    assert len(skipped) == 1 and "cell 7" in skipped[0] and "NameError" in skipped[0], r.warnings
