/** Text shown in the status bar; kept pure for tests. */

import type { PendingScene, SceneInfo, SceneList } from "../api/client";

export function formatTime(seconds: number): string {
  return `${seconds.toFixed(2)} s`;
}

export function formatRealTimeFactor(rtf: number): string {
  return `${rtf.toFixed(2)}×`;
}

export function formatPosition(p: readonly number[]): string {
  const f = (x: number) => (Math.abs(x) < 5e-4 ? 0 : x).toFixed(3);
  return `x ${f(p[0])} y ${f(p[1])} z ${f(p[2])}`;
}

export const FAMILY_LABELS: Record<SceneInfo["family"], string> = {
  classic_control: "Classic control",
  locomotion: "Locomotion",
  manipulation: "Manipulation",
};

const FAMILY_ORDER: SceneInfo["family"][] = ["classic_control", "locomotion", "manipulation"];

/** What the picker needs of a scene: a ready one (SceneInfo) or one still being prepared (PendingScene). */
type Listed = Pick<SceneInfo, "id" | "name" | "robot" | "family">;

/** Scenes matching `query` (name, robot or id; all words must match), grouped by family in a fixed order. */
export function groupScenes<S extends Listed>(
  scenes: readonly S[],
  query: string,
): { family: SceneInfo["family"]; label: string; scenes: S[] }[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const matches = scenes.filter((s) => {
    const text = `${s.name} ${s.robot} ${s.id}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  return FAMILY_ORDER.map((family) => ({
    family,
    label: FAMILY_LABELS[family],
    scenes: matches.filter((s) => s.family === family).sort((a, b) => a.name.localeCompare(b.name)),
  })).filter((g) => g.scenes.length > 0);
}

/** The scene to open first: CartpoleBalance when present (ready or not: the server prepares it first,
 * server/scenes/registry.py FIRST_SCENE), else the first one. */
export function defaultSceneId(scenes: readonly Pick<SceneInfo, "id">[]): string | null {
  if (scenes.some((s) => s.id === "CartpoleBalance")) return "CartpoleBalance";
  return scenes[0]?.id ?? null;
}

/** Every scene the server knows: the ready ones, then those still being prepared (both can be opened). */
export function allScenes(list: SceneList | null): (SceneInfo | PendingScene)[] {
  return list ? [...list.scenes, ...list.pending_scenes] : [];
}
