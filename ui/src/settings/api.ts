/** Training backend settings: which device trains and why, and the user's choice of local or Modal. */

import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";

export type BackendsReport = components["schemas"]["BackendsReport"];
export type TrainingSettings = components["schemas"]["TrainingSettings"];

export function getBackends(signal?: AbortSignal): Promise<BackendsReport> {
  return unwrap(api.GET("/api/training/backends", { signal }));
}

export function getTrainingSettings(signal?: AbortSignal): Promise<TrainingSettings> {
  return unwrap(api.GET("/api/training/settings", { signal }));
}

export function saveTrainingSettings(body: TrainingSettings): Promise<TrainingSettings> {
  return unwrap(api.PUT("/api/training/settings", { body }));
}

/** The sentence under the picker: where new jobs will train, and why. */
export function describeChoice(
  report: BackendsReport,
  backend: TrainingSettings["backend"],
): string {
  if (backend === "modal") {
    return report.modal.configured
      ? `New jobs train on Modal (${report.modal.gpu}), up to ${report.modal.max_concurrent} at once.`
      : `Modal is not configured: ${report.modal.detail}`;
  }
  return `New jobs train on this computer's ${report.local.device === "gpu" ? report.local.name : "CPU"}: ${report.local.reason}.`;
}
