import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';
import { runMigrations } from './migrate.js';
import { Transactions } from './transactions.js';

@Module({})
export class DatabaseModule {
  /** Migrations run before any other provider can touch the database (under an advisory lock). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: DatabaseModule,
      // Global like the DataSource it wraps: every domain module's services open transactions with it.
      global: true,
      providers: [Transactions],
      exports: [Transactions],
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(config.database),
          dataSourceFactory: async (options) => {
            if (!options) throw new Error('missing data source options');
            const dataSource = await new DataSource(options).initialize();
            if (config.database.runMigrations) await runMigrations(dataSource);
            return dataSource;
          },
        }),
      ],
    };
  }
}
