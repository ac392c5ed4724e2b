import { Module } from '@nestjs/common';
import { MessagingModule } from '../messaging/messaging.module.js';
import { AttestationNonces } from './attestation-nonces.js';
import { AttestationRepository } from './attestation.repository.js';
import { AttestationService } from './attestation.service.js';

/** Attestation: the epoch nonce nodes sign, and the verdicts on their reports (docs/security.md#attestation). */
@Module({ imports: [MessagingModule], providers: [AttestationNonces, AttestationRepository, AttestationService], exports: [AttestationService] })
export class AttestationModule {}
