import { Module } from '@nestjs/common';
import { AttestationModule } from '../attestation/attestation.module.js';
import { DeploymentsModule } from '../deployments/deployments.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { ShadowModule } from '../shadow/shadow.module.js';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { MessagingModule } from './messaging.module.js';
import { UplinkGateway } from './uplink.gateway.js';

/** Node → control-plane traffic: the gateway depends on the domains it feeds, not the other way round. */
@Module({ imports: [MessagingModule, TelemetryModule, AttestationModule, DeploymentsModule, NodesModule, ShadowModule], providers: [UplinkGateway] })
export class GatewayModule {}
