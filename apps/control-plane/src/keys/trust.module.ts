import { Module } from '@nestjs/common';
import { MessagingModule } from '../messaging/messaging.module.js';
import { TrustController } from './trust.controller.js';
import { TrustRootPublisher } from './trust-root.publisher.js';

/** Roots reach nodes: retained on the broker and over HTTP; an admin can make a replica reload its keys. */
@Module({ imports: [MessagingModule], controllers: [TrustController], providers: [TrustRootPublisher] })
export class TrustModule {}
