import type { ComponentChildren } from 'preact';
import { onLinkClick } from '../lib/router.js';

export function Link({ href, children, class: className }: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={href} class={className} onClick={(e) => onLinkClick(e, href)}>
      {children}
    </a>
  );
}
