import { useLocation } from '../lib/router.js';
import type { Session } from '../lib/session.js';
import { Link } from './link.js';

const PAGES = [
  { href: '/', label: 'Fleet' },
  { href: '/models', label: 'Models' },
  { href: '/rollouts', label: 'Rollouts' },
  { href: '/events', label: 'Events' },
];

const isCurrent = (href: string, path: string) => (href === '/' ? path === '/' || path.startsWith('/nodes') : path.startsWith(href));

export function Nav({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { path } = useLocation();
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <span class="brand">EdgeFleet</span>
      <nav aria-label="Main">
        {PAGES.map((p) => (
          <Link key={p.href} href={p.href} class={isCurrent(p.href, path) ? 'current' : ''}>
            <span aria-current={isCurrent(p.href, path) ? 'page' : undefined}>{p.label}</span>
          </Link>
        ))}
      </nav>
      <span class="who" data-testid="role">
        {session.role}
      </span>
      <button type="button" class="quiet" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}
