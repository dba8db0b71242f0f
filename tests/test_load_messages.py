"""Load errors that name what is wrong: an unresolved `from m import *` behind 'defines no
layer', and no such note where the module is there or nothing is star-imported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from layercheck.cases.submission.survey import LoadError, load

STUDENTS = Path(__file__).parent / "students"


def test_a_file_whose_layers_come_from_a_missing_star_import_names_it(tmp_path: Path) -> None:
    shutil.copy(STUDENTS / "good_functional_fast.py", tmp_path / "fast.py")
    with pytest.raises(LoadError) as e:
        load(tmp_path / "fast.py")
    assert "star-imports good_functional (line" in str(e.value), str(e.value)


def test_the_star_import_note_stays_silent_where_the_module_is_there(tmp_path: Path) -> None:
    shutil.copy(STUDENTS / "good_functional_fast.py", tmp_path / "fast.py")
    shutil.copy(STUDENTS / "good_functional.py", tmp_path / "good_functional.py")
    assert load(tmp_path / "fast.py").api == "functional"


def test_a_file_with_no_layer_and_no_star_import_gets_the_plain_message(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("from numpy import *  # noqa\nx = 1\n")
    with pytest.raises(LoadError) as e:
        load(tmp_path / "empty.py")
    assert "defines no layer:" in str(e.value) and "star-imports" not in str(e.value)
