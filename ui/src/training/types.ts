/**
 * Training and policy-library records: the generated OpenAPI types (src/api/schema.d.ts, from
 * server/training/types.py and server/training/library.py via `make api`), and the job state sets
 * from ../api/wire.gen.ts. Datetimes arrive as ISO strings.
 */

import type { components } from "../api/schema";
import * as wire from "../api/wire.gen";

type Schemas = components["schemas"];

export type JobSpec = Schemas["JobSpec"];
export type JobStatus = Schemas["JobStatus"];
export type JobState = JobStatus["state"];
export type Device = JobStatus["device"];
export type Preset = JobSpec["preset"];
export type TrainingProgress = Schemas["TrainingProgress"];
export type NetworkConfig = Schemas["NetworkConfig"];
export type PolicyManifest = Schemas["PolicyManifest"];
/** One row of GET /api/models. */
export type PolicySummary = Schemas["PolicySummary"];

/** States a job leaves only by a person's action (generated from the server's FINAL_STATES). */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(wire.FINAL_STATES);
/** States after which the server ends the event stream: the final ones and `interrupted` (generated). */
export const STREAM_END_STATES: ReadonlySet<JobState> = new Set(wire.STREAM_END_STATES);
