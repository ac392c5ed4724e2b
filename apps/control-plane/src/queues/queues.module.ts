import { Module } from '@nestjs/common';
import { RedisConnection } from './redis.js';

@Module({ providers: [RedisConnection], exports: [RedisConnection] })
export class QueuesModule {}
