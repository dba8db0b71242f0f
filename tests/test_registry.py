"""The layer registry (cases/registry.py): every table of names, defaults and points is
derived from its records, so a unit added to it shows up everywhere."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from layercheck import impl
from layercheck.cases import (
    adapters,
    case,
    curricula,
    functional,
    grids,
    net_cases,
    optim_cases,
    registry,
)
from layercheck.cases.grids import grid
from layercheck.cases.inputs import outputs
from layercheck.cases.registry import PHASES, REGISTRY, Functions, Unit
from layercheck.cases.student_grid import student_grid
from layercheck.cases.submission import names, survey
from layercheck.cases.submission.names import normal
from layercheck.reference.oracle import REFERENCES
from layercheck.reference.verdicts import check, module_runner
from layercheck.reports.cli import build_parser
from layercheck.reports.grading import checker, options, shrink

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = Path(__file__).resolve().parent / "students"
UNITS = registry.units_of("layer")  # the layers (networks and optimizers: tests below)
OTHERS = registry.units_of("net") + registry.units_of("optimizer")


def _defined_in_fixtures() -> set[str]:
    """Every class and function our well-behaved student fixtures define."""
    out: set[str] = set()
    for path in STUDENTS.glob("good_*.py"):
        tree = ast.parse(path.read_text())
        out |= {n.name for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return out


def _resolve(ref: str) -> object:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# --- each record is usable ----------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_runs_through_the_adapters_its_record_names(unit: Unit) -> None:
    assert _resolve(unit.adapter_ref("class")) is adapters.CLASS_ADAPTERS[unit.adapter]
    if unit.functions:
        assert (_resolve(unit.adapter_ref("functional"))
                is functional.FUNCTIONAL_ADAPTERS[unit.adapter])
    else:
        assert unit.adapter_ref("functional") is None


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_class_name_is_one_impl_defines(unit: Unit) -> None:
    assert isinstance(getattr(impl, unit.class_name, None), type), unit.class_name


def test_the_oracle_has_a_reference_for_every_unit_and_no_other() -> None:
    """reference/ keys its PyTorch references by layer name (cases/ cannot import them)."""
    assert set(REFERENCES) == set(registry.names())


def test_every_function_name_is_one_a_fixture_student_defines() -> None:
    missing = sorted(set(registry.all_names()) - _defined_in_fixtures())
    assert not missing, f"names no fixture defines (a typo in the registry?): {missing}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_has_cases_in_every_grid_and_api_it_claims(unit: Unit) -> None:
    assert grid("quick", (unit.name,)), "no quick-grid case"
    for api in unit.apis():
        assert student_grid((unit.name,), ("f64",), api), f"no student case for {api}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_outputs_and_their_phases_agree_with_the_verdicts(unit: Unit) -> None:
    """impl/'s verdicts on a unit's first training case judge the outputs the record says,
    each in the phase `phase_of` gives it, all passing."""
    c = next(c for c in grid("quick", (unit.name,)) if c.train)
    results = check(c, module_runner(impl))
    assert {r.output for r in results} == set(outputs(c)) <= set(unit.outputs)
    for r in results:
        assert r.status == "pass", r.message()
        assert registry.phase_of(r.output) == r.phase, r.output
    assert {registry.phase_of(o) for o in unit.outputs} <= set(unit.phases)


def test_aliases_are_normal_spellings_and_name_one_layer_each() -> None:
    seen: dict[str, str] = {}
    for unit in UNITS:
        for alias in unit.aliases:
            assert normal(alias) == alias, f"{unit.name}: {alias!r} is not normal()'s form"
            assert seen.setdefault(alias, unit.name) == unit.name, f"{alias!r} twice"
        if unit.aliases:
            assert normal(unit.class_name) in unit.aliases, unit.name


def test_each_units_main_pair_comes_first_and_variants_are_told_apart() -> None:
    for unit in UNITS:
        variants = [f.variant for f in unit.functions]
        assert variants[:1] in ([], [""]), unit.name
        assert len(set(variants)) == len(variants), unit.name
        for f in unit.functions[1:]:
            assert f.label(unit.name) == f"{unit.name} ({f.variant})"
            assert unit.variant(f.variant) is f
    assert registry.unit("conv").variant("fast").names == ("conv_forward_fast",
                                                           "conv_backward_fast")
    assert registry.unit("relu").variant("fast") is None


def test_a_record_with_an_unknown_role_or_grid_is_refused() -> None:
    relu = registry.unit("relu")
    for field in ("role", "grid", "kind", "family", "adapter"):
        with pytest.raises(ValueError, match="is not one of"):
            dataclasses.replace(relu, **{field: "nonesuch"})
    with pytest.raises(ValueError, match="unique"):
        REGISTRY.with_unit(relu)
    with pytest.raises(KeyError, match="known: conv"):
        registry.unit("nonesuch")


# --- points -----------------------------------------------------------------------------


def test_every_layer_is_worth_ten_points_five_per_phase() -> None:
    """The documented default: 10 points a layer, 5 forward and 5 backward."""
    for unit in UNITS:
        assert unit.phases == PHASES
        assert [registry.points(unit.name, p) for p in PHASES] == [5.0, 5.0]
    assert registry.points("conv", "no such phase") == 0.0


def test_max_points_sums_each_layer_once() -> None:
    defaults = registry.default_layers("class")
    assert registry.max_points(defaults) == 10.0 * len(defaults)
    assert registry.max_points((*defaults, "conv")) == registry.max_points(defaults)
    assert registry.max_points(()) == 0.0


# --- the derived tables -------------------------------------------------------------------


def test_the_graded_defaults_are_the_curricula_classic_layers() -> None:
    classic = ("conv", "pool", "affine", "relu", "softmax")  # README: both curricula's
    for api in registry.APIS:
        assert registry.default_layers(api) == classic
        assert checker.DEFAULT_LAYERS[api] == classic
        assert set(checker.LAYERS_BY_API[api]) == set(registry.layers_for(api))


def test_the_tables_other_modules_import_are_the_registrys() -> None:
    every = {u.name for u in UNITS}
    assert case.LAYERS == registry.names() == tuple(u.name for u in UNITS)
    assert options.LAYERS == registry.names(None) == tuple(u.name for u in registry.UNITS)
    assert set(case.CORE_LAYERS) | set(case.CURRICULA_LAYERS) == every
    assert set(curricula.CLASS_NAMES) == set(case.CURRICULA_LAYERS)
    assert adapters.CLASS_NAMES == names.CLASS_NAMES == {
        u.name: u.class_name for u in UNITS if u.student_class}
    assert set(curricula.BOOK_CLASSES) == {u.name for u in UNITS
                                           if u.student_class and u.family == "curricula"}
    assert adapters.FUNCTION_NAMES == names.FUNCTION_NAMES == {
        u.name: tuple((f.forward, f.backward) for f in u.functions) for u in UNITS
        if u.functions}
    assert names.CLASS_ALIASES == {u.name: u.aliases for u in UNITS if u.aliases}
    assert set(survey.LAYER_NAMES) == {
        *adapters.CLASS_NAMES.values(), *(n for u in UNITS for f in u.functions
                                          for n in f.names), *registry.unit_names()}
    assert set(adapters.LOSS_LAYERS) == {u.name for u in UNITS if u.role == "loss"}
    assert set(case.DEFAULT_EPS) == {u.name for u in UNITS if u.eps is not None}
    assert grids.WINDOWED == registry.windowed() == ("conv", "pool", "avgpool")
    assert set(grids.GENERATORS) == set(registry.GRIDS)


@pytest.mark.parametrize("command", ["check", "gradescope-autograder"])
def test_the_clis_layers_choices_are_the_registrys_names(command: str) -> None:
    parser = build_parser(command)
    every = ",".join(registry.names(None))
    args = parser.parse_args([command, "--layers", every])
    assert tuple(args.layers) == registry.names(None)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        parser.parse_args([command, "--layers", "nonesuch"])
    choices = err.getvalue().rsplit("choose from", 1)[1].split("\n")[0]
    assert tuple(x.strip() for x in choices.split(",")) == registry.names(None)


def test_the_reproducer_calls_the_names_the_record_gives() -> None:
    sub = dataclasses.make_dataclass("Sub", ["api", "path", "root", "module", "name_map"])
    for unit in UNITS:
        for api in unit.apis():
            c = student_grid((unit.name,), ("f64",), api)[0]
            text = shrink.reproducer(c, sub(api, "/s/layers.py", "/s", "layers", {}), "dx")
            for name in unit.called_names(api):
                assert f"m.{name}" in text, (unit.name, api, name)


def test_the_package_lists_no_layer_names_by_hand() -> None:
    """No tuple, list or set of two or more layer names is written out in cases/,
    reference/ or reports/: such a table is a registry query."""
    layers = set(registry.names())
    found = []
    for folder in ("cases", "reference", "reports"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "registry.py" or "standins" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Tuple | ast.List | ast.Set):
                    values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                    if (len(values) >= 2 and len(values) == len(node.elts)
                            and set(values) <= layers):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"hand-written layer tables: {found}"


# --- a unit added to a copy shows up everywhere ---------------------------------------------

FAKE = dataclasses.replace(
    registry.unit("relu"), name="fake", class_name="FakeLayer", aliases=("fakelayer", "fake"),
    functions=(Functions("fake_forward", "fake_backward"),
               Functions("fake_forward_fast", "fake_backward_fast", "fast")),
    points=(("forward", 1.0), ("backward", 2.0)))


def test_a_copy_with_another_unit_derives_every_table_anew() -> None:
    reg = REGISTRY.with_unit(FAKE)
    assert reg.names()[-1] == "fake" and "fake" not in registry.names()
    assert reg.class_names()["fake"] == "FakeLayer"
    assert reg.function_names()["fake"] == (("fake_forward", "fake_backward"),
                                            ("fake_forward_fast", "fake_backward_fast"))
    assert reg.aliases()["fake"] == ("fakelayer", "fake")
    assert {"FakeLayer", "fake_forward_fast", "fake_backward"} <= set(reg.all_names())
    assert "fake" in reg.default_layers("functional") and "fake" in reg.with_role("map")
    assert reg.max_points(("fake",)) == 3.0
    assert reg.max_points(("conv", "fake")) == REGISTRY.max_points(("conv",)) + 3.0


_FAKE_SCRIPT = """
import dataclasses, json
from layercheck.cases import registry
relu = registry.unit("relu")
fake = dataclasses.replace(relu, name="fake", class_name="FakeLayer",
    aliases=("fakelayer",), functions=(registry.Functions("fake_forward", "fake_backward"),),
    default=True)
registry.REGISTRY = registry.REGISTRY.with_unit(fake)
from layercheck.cases import adapters, case, inputs
from layercheck.cases.grids import grid
from layercheck.cases.student_grid import student_grid
from layercheck.cases.submission import names, survey
from layercheck.reports.grading import checker, options
from layercheck.reports.cli import build_parser
print(json.dumps({
    "LAYERS": case.LAYERS, "options": options.LAYERS,
    "CLASS_NAMES": adapters.CLASS_NAMES, "FUNCTION_NAMES": names.FUNCTION_NAMES,
    "CLASS_ALIASES": names.CLASS_ALIASES, "LAYER_NAMES": survey.LAYER_NAMES,
    "KINDS": inputs.KINDS, "DEFAULT_LAYERS": checker.DEFAULT_LAYERS,
    "grid": [c.id for c in grid("quick", ("fake",))][:2],
    "student": len(student_grid(("fake",), ("f64",), "functional")),
    "cli": build_parser("check").parse_args(["check", "--layers", "fake"]).layers,
}))
"""


def test_a_unit_installed_before_import_shows_up_in_every_modules_tables() -> None:
    out = subprocess.run([sys.executable, "-c", _FAKE_SCRIPT], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    got = json.loads(out)
    assert got["LAYERS"][-1] == got["options"][-1] == "fake"
    assert got["CLASS_NAMES"]["fake"] == "FakeLayer"
    assert got["FUNCTION_NAMES"]["fake"] == [["fake_forward", "fake_backward"]]
    assert got["CLASS_ALIASES"]["fake"] == ["fakelayer"]
    assert {"FakeLayer", "fake_forward", "fake_backward"} <= set(got["LAYER_NAMES"])
    assert got["KINDS"]["fake"] == list(registry.unit("relu").kinds)
    assert "fake" in got["DEFAULT_LAYERS"]["class"] and "fake" in got["DEFAULT_LAYERS"][
        "functional"]
    assert got["grid"] and all(i.startswith("fake-") for i in got["grid"])
    assert got["student"] > 0
    assert got["cli"] == ["fake"]


# --- networks and optimizers ---------------------------------------------------------------

VOCABULARY = {"simpleconvnet": "net", "twolayernet": "net", "multilayernet": "net",
              "fcnet": "net", "convnet3": "net", "sgd": "optimizer", "momentum": "optimizer",
              "nesterov": "optimizer", "adagrad": "optimizer", "rmsprop": "optimizer",
              "adam": "optimizer"}  # the --layers vocabulary of networks and optimizers


def test_networks_and_optimizers_are_units_of_their_own_kind() -> None:
    assert {u.name: u.kind for u in OTHERS} == VOCABULARY
    assert not set(VOCABULARY) & set(registry.names())  # the layer queries list layers only
    for u in OTHERS:
        assert not u.default and u.name not in registry.default_layers("class")
        assert registry.max_points((u.name,)) == 10.0
    assert registry.unit("fcnet").phases == ("loss", "grad")
    assert registry.unit("adam").phases == ("update",)


def test_each_api_calls_the_curriculums_own_names() -> None:
    assert registry.unit_names("class") == {
        "SimpleConvNet": "simpleconvnet", "TwoLayerNet": "twolayernet",
        "MultiLayerNet": "multilayernet", "MultiLayerNetExtend": "multilayernet",
        "SGD": "sgd", "Momentum": "momentum", "Nesterov": "nesterov", "AdaGrad": "adagrad",
        "RMSprop": "rmsprop", "Adam": "adam"}
    assert registry.unit_names("functional") == {
        "TwoLayerNet": "twolayernet", "FullyConnectedNet": "fcnet",
        "ThreeLayerConvNet": "convnet3", "sgd": "sgd", "sgd_momentum": "momentum",
        "rmsprop": "rmsprop", "adam": "adam"}
    assert registry.unit("momentum").called_names("functional") == ("sgd_momentum",)
    assert registry.unit("nesterov").apis() == ("class",)
    assert registry.unit("nesterov").adapter_ref("functional") is None


@pytest.mark.parametrize("unit", OTHERS, ids=lambda u: u.name)
def test_every_network_and_optimizer_runs_through_the_adapters_its_record_names(
        unit: Unit) -> None:
    module = net_cases if unit.kind == "net" else optim_cases
    for api, fn in (("class", "run_book"), ("functional", "run_cs231n")):
        ref = unit.adapter_ref(api)
        if api in unit.apis():
            assert _resolve(ref) is getattr(module, fn)
        else:
            assert ref is None


def test_a_unit_of_another_kind_must_say_what_it_calls() -> None:
    adam = registry.unit("adam")
    with pytest.raises(ValueError, match="called"):
        dataclasses.replace(adam, called=())
    with pytest.raises(ValueError, match="called"):
        dataclasses.replace(registry.unit("relu"), called=(("class", "X"),))
    with pytest.raises(ValueError, match="is not one of"):
        dataclasses.replace(adam, grid="dense")
