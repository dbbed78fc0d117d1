/** Test helpers: the committed MJB fixture (see __fixtures__/README.md). */

import { readFileSync } from "node:fs";

/** A free-floating 2 kg box (body 1, 0.2 m cube at z=1), a hinged pole (body 2), keyframe "lifted". */
export function fixtureMjb(): Uint8Array {
  return new Uint8Array(readFileSync(new URL("./__fixtures__/fixture.mjb", import.meta.url)));
}
