"""Drafting from the UI with every LLM provider, each the real SDK client against a local stub server that
speaks the provider's wire format (nothing here reaches the internet), for Cartpole and Go1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp, start_app, stop_app
from tests.e2e.test_task_panel import DRAFT_TIMEOUT_MS, VALID
from tests.e2e.test_viewer import open_scene
from tests.llm.stubs import Reply, StubServer, Wire

pytestmark = pytest.mark.e2e

CARTPOLE_PROGRAM = '''```python
"""Keep the pole up with the cart near the left."""

WEIGHTS = dict(pole_up=1.0, cart_left=0.5, effort=-0.01)


def pole_up(s):
    return jnp.cos(s.pole_angle)


def cart_left(s):
    return tolerance(s.cart_position, -1.0, -0.5, 0.5)


def effort(s):
    return jnp.sum(jnp.square(s.action))
```

```python
"""Check: the pole stays up with the cart on the left."""

AT_LEAST = dict(pole_up_share=0.9)
AT_MOST = dict(cart_late=-0.5)


def pole_up_share(s):
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)


def cart_late(s):
    return jnp.mean(s.cart_position[500:])
```'''

SCHEDULE_PROMPT_MARKER = "into a command schedule"  # server/llm/prompt.py's schedule system prompt
GO1_SCHEDULE = """```json
{"segments": [{"duration_s": 4.0, "command": {"forward": -0.4}, "label": "walk backwards"}]}
```"""

GO1_PROGRAM = '''Here is the program:

```python
"""Walk backwards."""

WEIGHTS = dict(backwards=1.0, upright=0.5, effort=-0.001)


def backwards(s):
    return exp_kernel(s.base_lin_vel[0] + 0.5, 0.25)


def upright(s):
    return tolerance(s.up_vector[2], 0.9, 1.0, 0.5)


def effort(s):
    return jnp.sum(jnp.square(s.action))
```

```python
"""Check: walks backwards and never falls."""

AT_MOST = dict(forward_speed=-0.3)
AT_LEAST = dict(never_fell=1.0)


def forward_speed(s):
    return jnp.mean(s.base_lin_vel[:, 0])


def never_fell(s):
    return jnp.min(s.alive)
```'''

PROVIDERS: dict[str, Wire] = {  # provider -> the wire format its stub speaks
    "anthropic": "anthropic",
    "openai": "openai",
    "deepseek": "openai",
    "gemini": "openai",
    "ollama": "ollama",
}


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, StubServer]]:
    servers = {
        name: StubServer(wire, default=Reply(text=CARTPOLE_PROGRAM)).start()
        for name, wire in PROVIDERS.items()
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def stubbed_app(
    tmp_path_factory: pytest.TempPathFactory, scene_cache: Path, stubs: dict[str, StubServer]
) -> Iterator[RunningApp]:
    env = {"OLLAMA_HOST": stubs["ollama"].url, "ROBOCOACH_LLM_MAX_RETRIES": "0"}
    for name in ("anthropic", "openai", "deepseek", "gemini"):
        env[f"ROBOCOACH_{name.upper()}_BASE_URL"] = stubs[name].url
        env[f"{name.upper()}_API_KEY"] = f"test-key-{name}"
    app = start_app(tmp_path_factory.mktemp("cloud-data"), scene_cache, env=env)
    yield app
    assert stop_app(app) == 0, "".join(app.output)


def draft_with(page: Page, provider: str, task: str, timeout_ms: float = DRAFT_TIMEOUT_MS) -> None:
    page.get_by_role("textbox", name="Task").fill(task)
    picker = page.get_by_role("combobox", name="Provider")
    expect(picker).to_be_enabled(timeout=60_000)  # the providers load once their SDKs are imported
    picker.select_option(provider)
    expect(picker).to_have_value(provider)
    page.get_by_role("button", name="Draft reward").click()
    expect(page.get_by_role("status", name="Validation")).to_have_text(VALID, timeout=timeout_ms)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_each_provider_drafts_a_validated_cartpole_program(
    page: Page, stubbed_app: RunningApp, stubs: dict[str, StubServer], provider: str
) -> None:
    page.goto(stubbed_app.url)
    open_scene(page, stubbed_app, "Cartpole Balance", "CartpoleBalance")
    before = len(stubs[provider].chats())
    draft_with(page, provider, "Balance the pole with the cart at the left")
    expect(page.get_by_role("textbox", name="Reward program")).to_contain_text("cart_left")
    # The request really went through this provider's SDK to its stub, carrying the task.
    sent = stubs[provider].chats()[before:]
    assert sent and "cart at the left" in sent[-1].text


@pytest.mark.timeout(900)
def test_go1_draft_through_a_cloud_provider(
    page: Page, stubbed_app: RunningApp, stubs: dict[str, StubServer]
) -> None:
    # Go1 takes commands: the provider is also asked for a command schedule (beside the reward, in an
    # order the queue cannot foresee), which gets its own standing answer.
    stubs["anthropic"].answers[SCHEDULE_PROMPT_MARKER] = Reply(text=GO1_SCHEDULE)
    stubs["anthropic"].queue(Reply(text=GO1_PROGRAM))
    page.goto(stubbed_app.url)
    open_scene(page, stubbed_app, "Go1 Joystick Flat Terrain", "Go1JoystickFlatTerrain")
    # A cold Go1 draft loads the scene, traces the reward and plays the check's sample rollouts.
    draft_with(page, "anthropic", "make the dog walk backwards", timeout_ms=480_000)
    expect(page.get_by_role("textbox", name="Reward program")).to_contain_text("base_lin_vel")
    expect(page.get_by_text(re.compile(r"validated on the first attempt"))).to_be_visible()
    assert any(SCHEDULE_PROMPT_MARKER in r.text for r in stubs["anthropic"].chats())
