import { useEffect, useState } from "react";
import type { ValidationReport } from "./api";

interface Props {
  /** Current weights read from the program text, by term name in program order. */
  weights: Map<string, number>;
  /** The last validation's terms, for each term's code (shown as a tooltip). */
  report: ValidationReport | null;
  onWeight: (name: string, value: number) => void;
}

function WeightInput({
  name,
  value,
  onCommit,
}: {
  name: string;
  value: number;
  onCommit: (value: number) => void;
}) {
  // Local text, so intermediate input ("-", "0.") is not overwritten by the last committed weight.
  const [text, setText] = useState(String(value));
  useEffect(() => {
    setText((t) => (Number(t) === value && t.trim() !== "" ? t : String(value)));
  }, [value]);
  return (
    <input
      type="number"
      step="any"
      className="weight-input"
      aria-label={`Weight of ${name}`}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const parsed = e.target.valueAsNumber;
        if (e.target.value.trim() !== "" && Number.isFinite(parsed) && parsed !== value) {
          onCommit(parsed);
        }
      }}
    />
  );
}

/** The program's terms with their weights; editing a weight rewrites `WEIGHTS = dict(...)`. */
export function TermsTable({ weights, report, onWeight }: Props) {
  const code = new Map(report?.terms.map((t) => [t.name, t.code]) ?? []);
  return (
    <table className="terms" aria-label="Reward terms">
      <thead>
        <tr>
          <th scope="col">Term</th>
          <th scope="col">Kind</th>
          <th scope="col">Weight</th>
        </tr>
      </thead>
      <tbody>
        {[...weights].map(([name, weight]) => (
          <tr key={name}>
            <th scope="row" title={code.get(name)}>
              {name}
            </th>
            <td className={weight < 0 ? "term-penalty" : "term-reward"}>
              {weight < 0 ? "penalty" : "reward"}
            </td>
            <td>
              <WeightInput name={name} value={weight} onCommit={(v) => onWeight(name, v)} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
