import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { UnavailableError } from '#common';
import {
  type DesiredState,
  type Envelope,
  type ModelManifest,
  type RootDocument,
  signDesiredState,
  type SigningKey,
  signManifest,
  verifyInitialRoot,
} from '#trust';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { KeyStore } from './key-store.js';

/**
 * Signs manifests at upload and desired states at deployment with the release keys from the operator's
 * key directory (files, never the database). Keys are read at boot: restart replicas after a rotation.
 */
@Injectable()
export class SigningService implements OnModuleInit {
  private keys: SigningKey[] = [];
  private rootEnvelope?: Envelope<RootDocument>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    const store = new KeyStore(this.config.trust.keysDir);
    try {
      this.rootEnvelope = await store.currentRoot();
      this.keys = await store.releaseKeys();
    } catch (error) {
      throw new UnavailableError(
        `no usable keys in ${this.config.trust.keysDir}: create them with \`npm run keys -- init --dir ${this.config.trust.keysDir}\``,
        { cause: error },
      );
    }
    // Refuse to run with a root that nodes would refuse.
    verifyInitialRoot(this.rootEnvelope, new Date());
  }

  /** The signed root handed to nodes at enrolment, which they pin. */
  get root(): Envelope<RootDocument> {
    if (!this.rootEnvelope) throw new UnavailableError('signing keys are not loaded');
    return this.rootEnvelope;
  }

  manifest(manifest: ModelManifest): Envelope<ModelManifest> {
    return signManifest(manifest, this.keys);
  }

  desiredState(state: DesiredState): Envelope<DesiredState> {
    return signDesiredState(state, this.keys);
  }
}
