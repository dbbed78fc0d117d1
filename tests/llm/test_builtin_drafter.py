"""The built-in drafter: phrases mapped to physical conditions in both the reward and the check, every
dm_control scene's drafts statically valid against the scene's real vocabulary, and the deterministic
revision of a reward whose job failed its check."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
import pytest

from server.checks.types import CheckResult, FigureResult, Reflection, TermStats
from server.llm.builtin import BuiltinRevision, draft_builtin, draft_builtin_check, parse, revise_builtin
from server.llm.builtin.revise import read_weights
from server.llm.builtin.templates import rail_limit
from server.rewards.static_check import check_program, static_check
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry

# One scene per dm_control model (the variants share their vocabulary) and tasks a person would type.
SCENES = [
    "AcrobotSwingup",
    "BallInCup",
    "CartpoleBalance",
    "CartpoleSwingup",
    "CheetahRun",
    "FingerSpin",
    "FingerTurnHard",
    "FishSwim",
    "HopperHop",
    "HumanoidWalk",
    "PendulumSwingup",
    "PointMass",
    "ReacherEasy",
    "SwimmerSwimmer6",
    "WalkerWalk",
]
TASKS = [
    "keep the pole upright",
    "balance the pole with the cart at the left",
    "swing up the pole",
    "stand up",
    "stand still",
    "walk forward without falling",
    "walk backwards",
    "run fast",
    "hop forward at 1 m/s",
    "reach the target",
    "spin the other way",
    "catch the ball",
    "swim to the target",
    "swim forward fast",
    "do something",
]


@pytest.fixture(scope="module")
def vocabularies() -> Iterator[dict[str, Vocabulary]]:
    """Each scene's real vocabulary, built from the real Playground env as the trace worker builds it
    (build_entries + describe), with shapes from `jax.eval_shape` so nothing is compiled."""
    import jax
    import jax.numpy as jnp

    from server.rewards.context import RewardContext
    from server.rewards.vocabulary import build_entries, describe
    from server.scenes.loader import load_env

    out = {}
    for scene_id in SCENES:
        env = load_env(scene_id, purpose="check", menagerie_dir=None).env
        state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
        action = jax.ShapeDtypeStruct((env.action_size,), jnp.float32)  # type: ignore[no-untyped-call]
        ctx = RewardContext(state.data, action, action, dict(state.info))
        out[scene_id] = describe(scene_id, build_entries(scene_id, env), ctx)
    yield out


def _validate(vocabulary: Vocabulary, reward: str, check: str) -> tuple[ValidationReport, ValidationReport]:
    names = {e.name for e in vocabulary.entries}
    shapes = {e.name: e.shape for e in vocabulary.entries}
    return check_program(reward, names, shapes)[0], static_check(check, names, shapes, kind="check")


def _figures(report: ValidationReport) -> dict[str, tuple[float | None, float | None, str]]:
    return {f.name: (f.at_least, f.at_most, f.code) for f in report.figures}


def _terms(report: ValidationReport) -> dict[str, tuple[float, str]]:
    return {t.name: (t.weight, t.code) for t in report.terms}


def _term_function(code: str) -> Callable[..., float]:
    """A cart-pole reward term (its function's source) as a function of cart position, pole angle and
    the pole's spin."""
    import jax.numpy as jnp

    from server.rewards.helpers import HELPERS

    namespace: dict[str, Any] = {"jnp": jnp, **HELPERS}
    exec(code, namespace)  # the built-in drafter's own template, validated above
    (term,) = (v for k, v in namespace.items() if k not in ("jnp", *HELPERS) and callable(v))

    def value(cart: float, angle: float, spin: float) -> float:
        s = SimpleNamespace(cart_position=cart, pole_angle=angle, pole_angular_velocity=spin)
        return float(term(s))

    return value


def test_every_scene_drafts_valid_rewards_and_checks(vocabularies: dict[str, Vocabulary]) -> None:
    for scene_id, vocabulary in vocabularies.items():
        for task in TASKS:
            reward = draft_builtin(task, scene_id, vocabulary)
            check = draft_builtin_check(task, scene_id, vocabulary)
            reward_report, check_report = _validate(vocabulary, reward, check)
            assert reward_report.ok, (scene_id, task, reward_report.errors, reward)
            assert check_report.ok, (scene_id, task, check_report.errors, check)
            required = [f for f in check_report.figures if f.at_least is not None or f.at_most is not None]
            assert required, (scene_id, task)
            # Every figure reads the rollout (a constant figure is refused), and a person gets at least
            # one figure beside the verdict that does not decide it.
            assert all("s." in f.code for f in check_report.figures), (scene_id, task)
            assert len(check_report.figures) > len(required), (scene_id, task, check)
            # Deterministic.
            assert draft_builtin(task, scene_id, vocabulary) == reward
            assert draft_builtin_check(task, scene_id, vocabulary) == check


def test_cart_at_the_left_is_a_cart_target_in_reward_and_check(vocabularies: dict[str, Vocabulary]) -> None:
    vocabulary = vocabularies["CartpoleBalance"]
    task = "balance the pole with the cart at the left"
    rewards, checks = _validate(
        vocabulary,
        draft_builtin(task, "CartpoleBalance", vocabulary),
        draft_builtin_check(task, "CartpoleBalance", vocabulary),
    )
    terms, figures = _terms(rewards), _figures(checks)
    # The reward centres the cart on a point left of the middle, and keeps it off the rail ends.
    assert "centred = (1.0 + tolerance(s.cart_position, -1.0, -1.0, 1.0)) / 2.0" in terms["upright"][1]
    assert "on_rail = tolerance(s.cart_position, -1.4, 1.4" in terms["upright"][1]
    # Only inside the product: balancing at the target pays most, balancing at the centre about half,
    # and a spinning pole with the cart parked at the target far less than either (an additive cart
    # term made that spinning pole PPO's answer).
    assert set(terms) == {"upright", "effort"}
    upright = _term_function(terms["upright"][1])
    at_target = upright(cart=-1.0, angle=0.0, spin=0.0)
    at_centre = upright(cart=0.0, angle=0.0, spin=0.0)
    spinning_at_target = np.mean(
        [upright(cart=-1.0, angle=a, spin=9.0) for a in np.linspace(-np.pi, np.pi, 64)]
    )
    assert at_target == pytest.approx(1.0)
    assert 0.5 <= at_centre <= 0.6 and spinning_at_target < 0.2
    # The check requires the cart there (measured from -1 m) and off the rail stop, read from the XML.
    assert figures["cart_offset"][1] == 0.3 and "s.cart_position[500:] + 1.0" in figures["cart_offset"][2]
    assert rail_limit() == 1.8
    assert figures["cart_travel"][1] == 1.6 and figures["upright"][0] == 0.9
    right = draft_builtin_check("balance the pole with the cart on the right", "CartpoleBalance", vocabulary)
    assert "s.cart_position[500:] - 1.0" in right
    # "In the middle" is a requirement too (a swing-up held 0.4 m off-centre passed before it was).
    middle = "swing up the pole and balance it with the cart in the middle"
    _, middle_checks = _validate(
        vocabularies["CartpoleSwingup"],
        "",
        draft_builtin_check(middle, "CartpoleSwingup", vocabularies["CartpoleSwingup"]),
    )
    assert _figures(middle_checks)["cart_offset"][1] == 0.25
    # ...paid by the default reward's centring term, which the revision raises when the middle fails.
    middle_terms = _terms(
        _validate(
            vocabularies["CartpoleSwingup"],
            draft_builtin(middle, "CartpoleSwingup", vocabularies["CartpoleSwingup"]),
            "",
        )[0]
    )
    assert set(middle_terms) == {"upright", "centered", "effort"}
    assert "cart_offset" not in draft_builtin_check("keep the pole upright", "CartpoleBalance", vocabulary)


def test_cartpole_reward_does_not_pay_half_for_a_horizontal_spinning_pole(
    vocabularies: dict[str, Vocabulary],
) -> None:
    reward = draft_builtin("keep the pole upright", "CartpoleBalance", vocabularies["CartpoleBalance"])
    body = _terms(_validate(vocabularies["CartpoleBalance"], reward, "")[0])["upright"][1]
    assert "up * up * calm * centred * on_rail" in body  # (1+cos)/2 squared: a quarter at horizontal
    assert "tolerance(s.pole_angular_velocity, 0.0, 0.0, 5.0)" in body  # spinning halves it again
    assert "pole_angle[500:]" not in draft_builtin_check(
        "keep the pole upright", "CartpoleBalance", vocabularies["CartpoleBalance"]
    )
    swing = draft_builtin_check("swing up the pole", "CartpoleSwingup", vocabularies["CartpoleSwingup"])
    assert "jnp.abs(s.pole_angle[500:]) < 0.31" in swing  # judged once it had time to get up


def test_stand_is_a_height_and_without_falling_is_height_and_upright(
    vocabularies: dict[str, Vocabulary],
) -> None:
    walker = vocabularies["WalkerWalk"]
    rewards, checks = _validate(
        walker,
        draft_builtin("stand up", "WalkerWalk", walker),
        draft_builtin_check("stand up", "WalkerWalk", walker),
    )
    terms, figures = _terms(rewards), _figures(checks)
    assert "tolerance(s.torso_height, 1.2, 100.0, 0.6)" in terms["height"][1]  # Playground's _STAND_HEIGHT
    assert "s.torso_height" in terms["stand"][1]
    assert figures["height"][0] == pytest.approx(1.08) and "s.torso_height[500:]" in figures["height"][2]
    assert figures["upright"][0] == 0.9
    assert "speed" not in figures  # standing is not travelling

    task = "walk forward without falling"
    rewards, checks = _validate(
        walker, draft_builtin(task, "WalkerWalk", walker), draft_builtin_check(task, "WalkerWalk", walker)
    )
    terms, figures = _terms(rewards), _figures(checks)
    assert {"move", "height", "upright"} <= set(terms)
    assert {"speed", "height", "upright"} <= set(figures)
    assert figures["height"][0] is not None and figures["height"][0] >= 0.9  # a crouch at 0.57 m fails
    assert figures["speed"][0] == 0.6

    back = draft_builtin_check("walk backwards", "WalkerWalk", walker)
    assert "AT_MOST = dict(speed=-0.6)" in back

    hopper = vocabularies["HopperHop"]
    hop = draft_builtin("stand up", "HopperHop", hopper)
    assert "s.body_torso_pos[2] - s.body_foot_pos[2], 0.55" in hop
    cheetah = draft_builtin_check("run without flipping", "CheetahRun", vocabularies["CheetahRun"])
    assert "jnp.mean(s.torso_upright > 0.0)" in cheetah and "upright=0.95" in cheetah


def test_phrases_parse_to_conditions() -> None:
    assert parse("balance the pole with the cart at the left").cart == -1.0
    assert parse("keep the cart on the right").cart == 1.0
    assert parse("balance it with the cart in the middle").cart == 0.0
    assert parse("hold the pole up and keep the cart still").cart is None  # still, but not placed
    assert parse("keep the pole upright").cart is None
    assert parse("walk without falling").no_fall and parse("stay upright while walking").no_fall
    assert parse("stand up").stand and not parse("walk forward").stand
    assert parse("swing the pole up").swing_up and parse("swing-up").swing_up
    assert parse("spin the other way").reverse and parse("spin counterclockwise").reverse
    assert parse("stand on the hind legs").direction is None  # "back legs" is not "backwards"
    assert parse("move the fingertip to the target and keep it there").stay
    assert parse("hold the tip on the target").stay and not parse("touch the target").stay
    assert not parse("hold the pole upright").stay


def test_keep_it_there_asks_a_reach_to_stay_at_the_target(vocabularies: dict[str, Vocabulary]) -> None:
    reacher = vocabularies["ReacherEasy"]

    def share(task: str) -> float | None:
        reward = draft_builtin(task, "ReacherEasy", reacher)
        rewards, checks = _validate(reacher, reward, draft_builtin_check(task, "ReacherEasy", reacher))
        assert rewards.ok and checks.ok
        return _figures(checks)["at_target"][0]

    assert share("touch the target") == 0.7
    assert share("move the fingertip to the target and keep it there") == 0.85


def test_floating_base_check_reads_body_velocity_alive_and_upright() -> None:
    entries = [
        VocabularyEntry(name=n, shape=s, description="")
        for n, s in [
            ("qpos", [19]), ("qvel", [18]), ("action", [12]), ("base_pos", [3]), ("base_height", []),
            ("base_lin_vel", [3]), ("base_ang_vel", [3]), ("up_vector", [3]), ("joint_vel", [12]),
        ]
    ]  # fmt: skip
    vocabulary = Vocabulary(scene_id="Go1JoystickFlatTerrain", entries=entries, helpers=[], jnp_functions=[])
    check = draft_builtin_check("make the dog walk backwards", "Go1JoystickFlatTerrain", vocabulary)
    reward = draft_builtin("make the dog walk backwards", "Go1JoystickFlatTerrain", vocabulary)
    rewards, checks = _validate(vocabulary, reward, check)
    assert rewards.ok and checks.ok, (rewards.errors, checks.errors)
    figures = _figures(checks)
    assert figures["forward_speed"][1] is not None and figures["forward_speed"][1] < 0
    assert "s.base_lin_vel[:, 0]" in figures["forward_speed"][2]
    assert figures["never_fell"] == (1.0, None, figures["never_fell"][2]) and "jnp.min(s.alive)" in check
    assert figures["upright"][0] == 0.9
    assert "exp_kernel(s.base_lin_vel[0:2] - jnp.array([-0.5, 0.0]), 0.25)" in reward  # unchanged template
    still = draft_builtin_check("stand still", "Go1JoystickFlatTerrain", vocabulary)
    assert "AT_MOST = dict(drift=0.15, joint_speed=1.0)" in still  # random actions move the joints


# ---- revision ---------------------------------------------------------------------------------------


def _reflection(
    task: str, scene_id: str, vocabulary: Vocabulary, figures: list[FigureResult], **kw: object
) -> Reflection:
    program = draft_builtin(task, scene_id, vocabulary)
    weights = read_weights(program)
    assert weights is not None
    fields: dict[str, object] = {
        "task_description": task,
        "program": program,
        "check": draft_builtin_check(task, scene_id, vocabulary),
        "result": CheckResult(
            passed=False, episodes=5, passed_episodes=0, score=0.2, figures=figures, summary="failed"
        ),
        "terms": [TermStats(name=n, weight=w, mean=1.0, std=0.1) for n, w in weights[0].items()],
        "eval_rewards": [100.0, 400.0, 900.0, 300.0, 250.0],  # rose and collapsed: not still rising
        "check_scores": [0.0, 0.2, 0.4, 0.2, 0.2],
        "kept_step": 600_000,
        "total_steps": 1_000_000,
        "round": 0,
    }
    fields.update(kw)
    return msgspec.convert(fields, Reflection)


def _weights(program: str) -> dict[str, float]:
    parsed = read_weights(program)
    assert parsed is not None
    return parsed[0]


def _valid(program: str, vocabulary: Vocabulary) -> bool:
    names = {e.name for e in vocabulary.entries}
    return check_program(program, names, {e.name: e.shape for e in vocabulary.entries})[0].ok


def test_revision_raises_the_failing_figures_term(vocabularies: dict[str, Vocabulary]) -> None:
    vocabulary = vocabularies["CartpoleBalance"]
    upright = FigureResult(name="upright", mean=0.3, worst=0.1, at_least=0.9, at_most=None, met=0)
    travel = FigureResult(name="cart_travel", mean=0.8, worst=1.1, at_least=None, at_most=1.6, met=5)
    reflection = _reflection("keep the pole upright", "CartpoleBalance", vocabulary, [upright, travel])
    revision = revise_builtin(reflection, "CartpoleBalance", vocabulary)
    assert isinstance(revision, BuiltinRevision)
    before, after = _weights(reflection.program), _weights(revision.program)
    assert after["upright"] == pytest.approx(1.5 * before["upright"])
    assert after["centered"] == before["centered"] and after["effort"] == before["effort"]  # passed figure
    assert revision.timesteps_factor == 1.0  # the curve collapsed, it was not still rising
    assert any("'upright'" in note and "0/5" in note for note in revision.notes)
    assert _valid(revision.program, vocabulary)
    assert revise_builtin(reflection, "CartpoleBalance", vocabulary) == revision  # deterministic
    # Everything outside WEIGHTS is the drafted program.
    assert (
        revision.program.split("WEIGHTS")[1].split("\n", 1)[1]
        == reflection.program.split("WEIGHTS")[1].split("\n", 1)[1]
    )


def test_revision_relaxes_penalties_aims_further_and_lengthens(vocabularies: dict[str, Vocabulary]) -> None:
    vocabulary = vocabularies["WalkerWalk"]
    task = "walk forward without falling"
    still = FigureResult(name="speed", mean=0.02, worst=0.0, at_least=0.6, at_most=None, met=0)
    revision = revise_builtin(
        _reflection(task, "WalkerWalk", vocabulary, [still], eval_rewards=[10.0, 50.0, 90.0, 130.0]),
        "WalkerWalk",
        vocabulary,
    )
    weights = _weights(revision.program)
    assert weights["effort"] == pytest.approx(-0.005)  # barely moved: penalties halved
    assert weights["move"] == pytest.approx(1.5)
    assert revision.timesteps_factor == 1.5  # the curve was still rising
    assert len(revision.notes) == 3 and _valid(revision.program, vocabulary)

    close = FigureResult(name="speed", mean=0.55, worst=0.5, at_least=0.6, at_most=None, met=1)
    first = revise_builtin(_reflection(task, "WalkerWalk", vocabulary, [close]), "WalkerWalk", vocabulary)
    assert "s.forward_velocity / 1.2" in first.program and "Revision knobs: aim=1.2" in first.program
    assert _weights(first.program)["effort"] == -0.01  # it moved: penalties kept
    # A second round starts from the first's program: its knobs and weights carry on.
    again = _reflection(task, "WalkerWalk", vocabulary, [close], program=first.program)
    second = revise_builtin(again, "WalkerWalk", vocabulary)
    assert "s.forward_velocity / 1.44" in second.program
    assert _weights(second.program)["move"] == pytest.approx(2.25)
    assert _valid(second.program, vocabulary)


def test_revision_of_an_edited_program_only_rewrites_weights(vocabularies: dict[str, Vocabulary]) -> None:
    vocabulary = vocabularies["ReacherEasy"]
    task = "reach the target"
    edited = (
        draft_builtin(task, "ReacherEasy", vocabulary).replace(
            "WEIGHTS = dict(at_target=1.0, approach=0.3, effort=-0.01)",
            "WEIGHTS = dict(\n    at_target=1.0,\n    approach=0.3,\n    effort=-0.01,\n)",
        )
        + "\n# a person's note\n"
    )
    missed = FigureResult(name="at_target", mean=0.1, worst=0.0, at_least=0.7, at_most=None, met=0)
    revision = revise_builtin(
        _reflection(task, "ReacherEasy", vocabulary, [missed], program=edited), "ReacherEasy", vocabulary
    )
    assert _weights(revision.program) == {"at_target": 1.5, "approach": 0.45, "effort": -0.005}
    assert revision.program.endswith("\n# a person's note\n")
    tree = ast.parse(revision.program)
    assert [type(n).__name__ for n in tree.body][:2] == ["Expr", "Assign"]
    assert _valid(revision.program, vocabulary)
    assert re.search(r"WEIGHTS = dict\(at_target=1\.5, approach=0\.45, effort=-0\.005\)", revision.program)
