/**
 * Training and policy-library records.
 * Mirror until schema.d.ts has them: these copy server/training/types.py field for field
 * (datetimes arrive as ISO strings). Replace with components["schemas"][...] after `make api`.
 */

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "interrupted";
export type Device = "cpu" | "gpu";
export type Preset = "auto" | "cpu_quick" | "cpu" | "playground";

export interface JobSpec {
  scene_id: string;
  program: string;
  task_description?: string;
  name?: string;
  preset?: Preset;
  timesteps?: number | null;
  time_budget_s?: number | null;
  seed?: number;
  base_policy_id?: string | null;
}

export interface TrainingProgress {
  step: number;
  total_steps: number;
  eval_reward: number | null;
  reward_terms: Record<string, number>;
  task_reward: number | null;
  steps_per_second: number;
  elapsed_s: number;
  eta_s: number | null;
}

export interface JobStatus {
  job_id: string;
  state: JobState;
  spec: JobSpec;
  device: Device;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: TrainingProgress | null;
  history: TrainingProgress[];
  error: string | null;
  policy_id: string | null;
  resumable: boolean;
}

export interface NetworkConfig {
  policy_hidden_layer_sizes: number[];
  value_hidden_layer_sizes: number[];
  normalize_observations: boolean;
  policy_obs_key: string;
  value_obs_key: string;
}

export interface PolicyManifest {
  policy_id: string;
  name: string;
  scene_id: string;
  task_description: string;
  program: string;
  network: NetworkConfig;
  observation_size: Record<string, number[]>;
  action_size: number;
  ctrl_dt: number;
  training_config: Record<string, number | boolean | string>;
  metrics_history: TrainingProgress[];
  final_eval_reward: number | null;
  created_at: string;
  versions: Record<string, string>;
  job_id: string | null;
  base_policy_id: string | null;
  params_sha256: string;
}

/** One row of GET /api/models: mirrors PolicySummary in server/training/library.py. */
export interface PolicySummary {
  id: string;
  name: string;
  scene_id: string;
  task: string;
  final_eval_reward: number | null;
  created_at: string;
}

export const FINAL_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled"]);
