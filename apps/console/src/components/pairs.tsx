/** Label → value pairs as a definition list (styled as cards by `.pairs`). */
export function Pairs({ rows }: { rows: readonly (readonly [string, string])[] }) {
  return (
    <dl class="pairs">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
