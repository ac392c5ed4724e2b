import { Link } from './components/link.js';
import { isWellFormedPath, match, useLocation } from './lib/router.js';
import { EventsPage } from './pages/events/events-page.js';
import { FleetPage } from './pages/fleet/fleet-page.js';
import { ModelPage } from './pages/models/model-page.js';
import { ModelsPage } from './pages/models/models-page.js';
import { NodePage } from './pages/node/node-page.js';
import { NewRolloutPage } from './pages/rollouts/new-rollout-page.js';
import { RolloutPage } from './pages/rollouts/rollout-page.js';
import { RolloutsPage } from './pages/rollouts/rollouts-page.js';

function NotFound({ path }: { path: string }) {
  return (
    <section>
      <h1>Not found</h1>
      <p class="problem" role="alert">
        <strong>Not found</strong> {path} is not a page of the console (its %-escapes are broken).
      </p>
      <Link href="/">Back to the fleet</Link>
    </section>
  );
}

/** Path → page. Unknown paths show the fleet, the console's home; a path that cannot be decoded, not found. */
export function Routes() {
  const { path } = useLocation();
  if (!isWellFormedPath(path)) return <NotFound path={path} />;
  const node = match('/nodes/:id', path);
  if (node?.['id']) return <NodePage id={node['id']} />;
  const model = match('/models/:name', path);
  if (model?.['name']) return <ModelPage name={model['name']} />;
  if (match('/models', path)) return <ModelsPage />;
  if (match('/rollouts/new', path)) return <NewRolloutPage />;
  const rollout = match('/rollouts/:id', path);
  if (rollout?.['id']) return <RolloutPage id={rollout['id']} />;
  if (match('/rollouts', path)) return <RolloutsPage />;
  if (match('/events', path)) return <EventsPage />;
  return <FleetPage />;
}
