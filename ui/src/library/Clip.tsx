import { type RefObject, useEffect, useRef, useState } from "react";
import { sleep } from "../training/api";
import { fetchClip } from "./api";

/** The wait before asking again for a just-saved policy's clip: 1 s, 2 s, … up to 5 s. */
const retryDelayMs = (attempt: number) => Math.min(5000, 1000 * (attempt + 1));

/** True once `ref`'s element has come near the viewport (at once where IntersectionObserver is missing). */
function useSeen(ref: RefObject<Element | null>): boolean {
  const [seen, setSeen] = useState(typeof IntersectionObserver === "undefined");
  useEffect(() => {
    const element = ref.current;
    if (seen || !element) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) setSeen(true);
      },
      { rootMargin: "200px" },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref, seen]);
  return seen;
}

/**
 * A policy's clip, loaded once it scrolls into view (with the token header, into an object URL freed on
 * unmount). Nothing shows when the policy has none; `retries` asks again that many times on a 404 (a
 * just-saved policy's clip is rendered a moment later).
 */
export function PolicyClip({
  policyId,
  name,
  retries = 0,
  className = "policy-clip",
}: {
  policyId: string;
  name: string;
  retries?: number;
  className?: string;
}) {
  const host = useRef<HTMLSpanElement>(null);
  const seen = useSeen(host);
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!seen) return;
    const abort = new AbortController();
    let made: string | null = null;
    void (async () => {
      for (let attempt = 0; !abort.signal.aborted; attempt++) {
        let clip: Blob | null = null;
        try {
          clip = await fetchClip(policyId, abort.signal);
        } catch {
          return; // the clip is a nicety: a failed read shows nothing
        }
        if (abort.signal.aborted) return;
        if (clip) {
          made = URL.createObjectURL(clip);
          setUrl(made);
          return;
        }
        if (attempt >= retries) return;
        await sleep(retryDelayMs(attempt), abort.signal);
      }
    })();
    return () => {
      abort.abort();
      if (made) URL.revokeObjectURL(made);
      setUrl(null);
    };
  }, [policyId, retries, seen]);
  return (
    <span ref={host} className={className}>
      {url && <img src={url} alt={`Clip of ${name}`} />}
    </span>
  );
}
