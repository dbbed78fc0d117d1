/** A streaming Server-Sent Events parser (the parts of the WHATWG algorithm the server uses). */

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Feed it text chunks as they arrive; it returns the events completed by each chunk. Chunks may split an
 * event, a line or a CRLF anywhere. Comment lines (": keep-alive") and events without data are skipped.
 */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private id: string | null = null;
  private lastId: string | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone "\r" at the end might be the first half of a CRLF split across chunks: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  /** The stream ended: a final event without its blank line is dropped, as browsers do. */
  end(): void {
    this.buffer = "";
    this.reset();
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }

  private dispatch(): SseEvent | null {
    if (this.id !== null) this.lastId = this.id;
    if (this.data.length === 0) {
      this.reset();
      return null;
    }
    const event = { event: this.event || "message", data: this.data.join("\n"), id: this.lastId };
    this.reset();
    return event;
  }

  private reset(): void {
    this.event = "";
    this.data = [];
    this.id = null;
  }
}
