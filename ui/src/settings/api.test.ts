import { describe, expect, it } from "vitest";
import { type BackendsReport, describeChoice } from "./api";

const report = (configured: boolean, device: "cpu" | "gpu"): BackendsReport => ({
  selected: "local",
  local: {
    device,
    name: device === "gpu" ? "NVIDIA H100" : "CPU",
    reason: device === "gpu" ? "JAX sees 1 CUDA device(s)" : "no NVIDIA driver on this computer",
    probed: true,
  },
  local_running: 0,
  modal: {
    configured,
    detail: configured ? "a token is configured" : "no Modal token: run `modal token new`",
    gpu: "H100",
    max_concurrent: 100,
    running: 0,
  },
  queued: 0,
});

describe("describeChoice", () => {
  it("names the local device and the reason", () => {
    expect(describeChoice(report(false, "cpu"), "local")).toContain("CPU: no NVIDIA driver");
    expect(describeChoice(report(false, "gpu"), "local")).toContain("NVIDIA H100");
  });
  it("says when Modal is not configured, and how", () => {
    expect(describeChoice(report(false, "cpu"), "modal")).toContain("modal token new");
    expect(describeChoice(report(true, "cpu"), "modal")).toContain("up to 100 at once");
  });
});
