// Development stub of the Robocoach API for checking the built UI without the Python server.
// Usage: node scripts/stub-server.mjs <folder with NAME.mjb files> [port]
// Serves ui/dist at "/", the scene list, gzip-encoded models, the diagnostics endpoint and a canned
// version of reward drafting: builtin drafts one fixed program; anthropic fails (no key) until a key is
// saved; validation flags `import` lines and nothing else.
// Training: a job runs ~8 s (STUB_TRAIN_FAIL=1: it fails at half way), streams "status" events (split
// into odd chunks, with keep-alive comments) and saves a policy to an in-memory library.
// Token: "dev" (open http://127.0.0.1:<port>/?token=dev).

import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = fileURLToPath(new URL("../dist", import.meta.url));
const folder = process.argv[2] ?? ".";
const port = Number(process.argv[3] ?? 8765);
const TOKEN = "dev";

const KNOWN = {
  CartpoleBalance: ["Cartpole Balance", "classic_control", "Cartpole"],
  Go1JoystickFlatTerrain: ["Go1 Joystick Flat Terrain", "locomotion", "Unitree Go1"],
};
const models = new Map();
const scenes = readdirSync(folder)
  .filter((f) => f.endsWith(".mjb"))
  .map((f) => {
    const id = f.slice(0, -4);
    const [name, family, robot] = KNOWN[id] ?? [id, "classic_control", id];
    models.set(id, join(folder, f));
    return {
      id,
      name,
      family,
      robot,
      num_actuators: 0,
      action_size: 0,
      observation_size: {},
      ctrl_dt: 0.01,
      sim_dt: 0.01,
      n_substeps: 1,
      keyframes: [],
      model_bytes: 0,
      model_sha256: "",
      mujoco_version: "3.14.0",
    };
  });
const gzCache = new Map();
let lastReport = null;
// STUB_PENDING=n: the first n scene-list answers are incomplete (last scene pending, one failure).
let pendingAnswers = Number(process.env.STUB_PENDING ?? 0);

const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
};

const PROVIDERS = [
  ["builtin", "Built-in drafter", "templates", false],
  ["anthropic", "Claude (Anthropic)", "claude-sonnet", true],
  ["ollama", "Ollama (local)", "qwen2.5-coder", false],
];
let activeProvider = "builtin";
const savedKeys = new Set();
function providerList() {
  return {
    active: activeProvider,
    providers: PROVIDERS.map(([name, label, model, needsKey]) => ({
      name,
      label,
      model,
      needs_key: needsKey,
      configured: !needsKey || savedKeys.has(name),
      key_source: needsKey ? (savedKeys.has(name) ? "saved" : "none") : "none",
      reachable: name === "ollama" ? false : name === "builtin" ? true : null,
      active: name === activeProvider,
      detail: name === "ollama" ? "Ollama is not running on 127.0.0.1:11434." : "",
    })),
  };
}
const PROGRAM = `"""Balance the pole with the cart at the left."""

WEIGHTS = dict(
    upright=1.0,
    cart_left=0.5,  # where the cart should be
    effort=-0.01,
)


def upright(s):
    return tolerance(jnp.cos(s.pole_angle), 0.95, 1.0, 0.2)


def cart_left(s):
    return tolerance(s.cart_position, -1.0, -0.5, 0.5)


def effort(s):
    return jnp.sum(jnp.square(s.action))
`;
function validate(program) {
  const errors = [];
  program.split("\n").forEach((line, i) => {
    const col = line.indexOf("import");
    if (col >= 0)
      errors.push({
        line: i + 1,
        column: col,
        message: "imports are not allowed",
        stage: "static",
      });
  });
  const weights = [
    ...(program.match(/WEIGHTS = dict\(([^)]*)\)/)?.[1] ?? "").matchAll(/(\w+)=(-?[\d.e-]+)/g),
  ];
  const terms = weights.map(([, name, w]) => ({
    name,
    type: Number(w) < 0 ? "penalty" : "reward",
    weight: Number(w),
    code: `def ${name}(s): ...`,
  }));
  return { ok: errors.length === 0, errors, terms: errors.length ? [] : terms };
}
const jobs = [];
const policies = new Map();
const TOTAL = 20_000;
function startJob(spec) {
  const job = {
    job_id: `job${jobs.length + 1}`,
    state: "running",
    spec: { task_description: "", name: "", preset: "auto", timesteps: null, seed: 0, ...spec },
    device: "cpu",
    created_at: new Date().toISOString(),
    started_at: new Date().toISOString(),
    finished_at: null,
    progress: null,
    history: [],
    error: null,
    policy_id: null,
    resumable: false,
  };
  jobs.unshift(job);
  runJob(job);
  return job;
}
function runJob(job) {
  const started = Date.now() - (job.progress?.elapsed_s ?? 0) * 1000;
  let step = job.progress?.step ?? 0;
  const tick = () => {
    if (job.state !== "running") return;
    const elapsed = (Date.now() - started) / 1000;
    const point = {
      step,
      total_steps: TOTAL,
      eval_reward: 900 * (1 - Math.exp(-step / 6000)),
      reward_terms: {
        upright: 600 * (1 - Math.exp(-step / 5000)),
        effort: -20 * Math.exp(-step / 8000),
      },
      task_reward: 950 * (1 - Math.exp(-step / 6000)),
      steps_per_second: elapsed > 0 ? step / elapsed : 0,
      elapsed_s: elapsed,
      eta_s: step > 0 ? ((TOTAL - step) * elapsed) / step : null,
    };
    job.progress = point;
    job.history.push(point);
    if (process.env.STUB_TRAIN_FAIL && step >= TOTAL / 2) {
      job.state = "failed";
      job.error = "reward term 'upright' returned NaN at step 10000";
      job.finished_at = new Date().toISOString();
    } else if (step >= TOTAL) {
      const id = `pol${policies.size + 1}`;
      policies.set(id, {
        policy_id: id,
        name: job.spec.name || `Cartpole · ${job.spec.task_description.slice(0, 40)}`,
        scene_id: job.spec.scene_id,
        task_description: job.spec.task_description,
        program: job.spec.program,
        network: {
          policy_hidden_layer_sizes: [32, 32],
          value_hidden_layer_sizes: [64, 64],
          normalize_observations: true,
          policy_obs_key: "state",
          value_obs_key: "state",
        },
        observation_size: { state: [5] },
        action_size: 1,
        ctrl_dt: 0.01,
        training_config: { num_timesteps: TOTAL },
        metrics_history: job.history,
        final_eval_reward: point.eval_reward,
        created_at: new Date().toISOString(),
        versions: { jax: "0.7", brax: "0.13" },
        job_id: job.job_id,
        base_policy_id: null,
        params_sha256: "0".repeat(64),
      });
      job.policy_id = id;
      job.state = "succeeded";
      job.finished_at = new Date().toISOString();
    } else {
      step += 2000;
      setTimeout(tick, 800);
    }
  };
  tick();
}
function summary(p) {
  const { policy_id, name, scene_id, task_description, final_eval_reward, created_at } = p;
  return { id: policy_id, name, scene_id, task: task_description, final_eval_reward, created_at };
}
function streamJob(res, job) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  let last = "";
  const send = () => {
    const text = JSON.stringify(job);
    if (text !== last) {
      last = text;
      const event = `: keep-alive\n\nevent: status\ndata: ${text}\n\n`;
      const cut = Math.floor(event.length / 3); // split mid-event on purpose
      res.write(event.slice(0, cut));
      res.write(event.slice(cut));
    }
    if (["succeeded", "failed", "cancelled", "interrupted"].includes(job.state)) {
      clearInterval(id);
      res.end();
    }
  };
  const id = setInterval(send, 300);
  res.on("close", () => clearInterval(id));
  send();
}

function readJson(req, then) {
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", () => then(JSON.parse(body)));
}

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname.startsWith("/api/")) {
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return json(res, 401, { detail: "bad token" });
    if (url.pathname === "/api/playground/scenes") {
      if (pendingAnswers > 0) {
        pendingAnswers -= 1;
        return json(res, 200, {
          scenes: scenes.slice(0, -1),
          pending: scenes.slice(-1).map((s) => s.id),
          failed: [{ id: "BrokenEnv", error: "ValueError: example failure" }],
          complete: false,
        });
      }
      return json(res, 200, { scenes, pending: [], failed: [], complete: true });
    }
    const m = url.pathname.match(/^\/api\/playground\/scenes\/([^/]+)\/model\.mjb$/);
    if (m && models.has(m[1])) {
      if (!gzCache.has(m[1])) gzCache.set(m[1], gzipSync(readFileSync(models.get(m[1]))));
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        "Content-Encoding": "gzip",
      });
      return res.end(gzCache.get(m[1]));
    }
    if (url.pathname === "/api/diagnostics/client" && req.method === "POST") {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        lastReport = JSON.parse(body);
        console.log("client report", lastReport);
        json(res, 201, {});
      });
      return;
    }
    if (url.pathname === "/api/llm/providers") return json(res, 200, providerList());
    if (url.pathname === "/api/llm/select" && req.method === "POST") {
      return readJson(req, (b) => {
        activeProvider = b.provider;
        json(res, 200, providerList());
      });
    }
    if (url.pathname === "/api/llm/keys" && req.method === "POST") {
      return readJson(req, (b) => {
        savedKeys.add(b.provider);
        json(res, 200, providerList());
      });
    }
    if (url.pathname === "/api/rewards/validate" && req.method === "POST") {
      return readJson(req, (b) => setTimeout(() => json(res, 200, validate(b.program)), 500));
    }
    if (url.pathname === "/api/policy/generate" && req.method === "POST") {
      return readJson(req, (b) => {
        const provider = b.provider ?? activeProvider;
        setTimeout(() => {
          if (provider !== "builtin" && !savedKeys.has(provider)) {
            return json(res, 502, {
              provider,
              cause: "no_key",
              detail: `No API key for ${provider}: set it in the task panel or the environment.`,
              fallback: "builtin",
            });
          }
          json(res, 200, {
            policy_id: "p1",
            task_description: b.task_description,
            scene_id: b.scene_id,
            training_method: "full_training",
            training_time_estimate: "about 25 minutes on this computer's CPU",
            training_time_estimate_s: 1500,
            reward_functions: [],
            program: PROGRAM,
            validation: validate(PROGRAM),
            provider,
            model: provider === "builtin" ? "templates" : "claude-sonnet",
            attempts: 2,
          });
        }, 2500);
      });
    }
    if (url.pathname === "/api/training/start" && req.method === "POST") {
      return readJson(req, (b) => {
        const report = validate(b.program);
        if (!report.ok) return json(res, 422, report);
        json(res, 201, startJob(b));
      });
    }
    if (url.pathname === "/api/training" && req.method === "GET") {
      return json(
        res,
        200,
        jobs.map((j) => ({ ...j, history: [] })),
      );
    }
    const t = url.pathname.match(/^\/api\/training\/([^/]+)\/(status|cancel|resume|events)$/);
    const tj = t && jobs.find((j) => j.job_id === t[1]);
    if (t && !tj) return json(res, 404, { detail: "unknown job" });
    if (t && t[2] === "status") return json(res, 200, tj);
    if (t && t[2] === "events") return streamJob(res, tj);
    if (t && t[2] === "cancel") {
      if (tj.state === "running") {
        tj.state = "cancelled";
        tj.finished_at = new Date().toISOString();
      }
      return json(res, 200, tj);
    }
    if (t && t[2] === "resume") {
      tj.state = "running";
      tj.error = null;
      runJob(tj);
      return json(res, 200, tj);
    }
    if (url.pathname === "/api/models" && req.method === "GET") {
      return json(res, 200, [...policies.values()].reverse().map(summary));
    }
    if (url.pathname === "/api/models/import" && req.method === "POST") {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        try {
          const p = JSON.parse(Buffer.concat(chunks).toString());
          p.policy_id = `pol${policies.size + 1}`;
          policies.set(p.policy_id, p);
          json(res, 201, p);
        } catch {
          json(res, 400, { detail: "not a .robocoach file" });
        }
      });
      return;
    }
    const pm = url.pathname.match(/^\/api\/models\/([^/]+)(\/export)?$/);
    const pol = pm && policies.get(pm[1]);
    if (pm && !pol) return json(res, 404, { detail: "unknown policy" });
    if (pm?.[2]) {
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": `attachment; filename="${pol.policy_id}.robocoach"`,
      });
      return res.end(JSON.stringify(pol));
    }
    if (pm && req.method === "GET") return json(res, 200, pol);
    if (pm && req.method === "PATCH") {
      return readJson(req, (b) => {
        pol.name = b.name;
        json(res, 200, pol);
      });
    }
    if (pm && req.method === "DELETE") {
      policies.delete(pm[1]);
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname === "/api/diagnostics") return json(res, 200, { client: lastReport });
    return json(res, 404, { detail: "not found" });
  }
  let file = join(dist, url.pathname === "/" ? "index.html" : url.pathname);
  let data;
  try {
    data = readFileSync(file);
  } catch {
    file = join(dist, "index.html");
    data = readFileSync(file);
  }
  res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
  res.end(data);
}).listen(port, "127.0.0.1", () => {
  console.log(`stub server on http://127.0.0.1:${port}/?token=${TOKEN}`);
});
