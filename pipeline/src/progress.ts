/** One carriage-returned progress line: epoch, batch, running loss and accuracy, CPU seconds so far, ETA for the epoch. */
export function progressLine(p: { epoch: number; epochs: number; batch: number; batches: number; loss: number; accuracy: number; elapsedMs: number; cpuMs: number }): string {
  const width = 30;
  const filled = Math.round((p.batch / p.batches) * width);
  const etaS = Math.round(((p.elapsedMs / p.batch) * (p.batches - p.batch)) / 1000);
  const eta = `${Math.floor(etaS / 60)}m${String(etaS % 60).padStart(2, '0')}s`;
  return `\repoch ${p.epoch}/${p.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] batch ${p.batch}/${p.batches}  loss ${p.loss.toFixed(4)}  acc ${(p.accuracy * 100).toFixed(2)}%  cpu ${(p.cpuMs / 1000).toFixed(0)}s  ETA ${eta} `;
}
