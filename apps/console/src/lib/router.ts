import { useEffect, useState } from 'preact/hooks';

/**
 * A few routes do not need a router library: the path is the state, pushState moves it and popstate
 * brings back/forward. The control plane answers every console path with index.html.
 */
const listeners = new Set<() => void>();

export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** A path segment decoded, or null when its escapes are malformed (`%E0%A4%A`: decodeURIComponent throws). */
function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** False for a path a typo or a cut link left with a broken %-escape: the console shows "not found" for it. */
export function isWellFormedPath(path: string): boolean {
  return path.split('/').every((segment) => decodeSegment(segment) !== null);
}

/** Matches `/rollouts/:id` style patterns; returns the params or null (also for a malformed escape). */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.replace(/\/+$/, '').split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith(':')) {
      const value = decodeSegment(g);
      if (value === null) return null;
      params[w.slice(1)] = value;
    } else if (w !== g) return null;
  }
  return params;
}

/** A left click without modifiers stays in the app; others (new tab) go to the browser. */
export function onLinkClick(event: MouseEvent, href: string): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(href);
}
