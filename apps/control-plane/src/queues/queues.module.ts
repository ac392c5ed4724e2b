import { Module } from '@nestjs/common';
import { RedisConnection } from './redis.js';
import { TokenBuckets } from './token-buckets.js';

@Module({ providers: [RedisConnection, TokenBuckets], exports: [RedisConnection, TokenBuckets] })
export class QueuesModule {}
