import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';
import { runMigrations } from './migrate.js';

@Module({})
export class DatabaseModule {
  /** Migrations run before any other provider can touch the database (under an advisory lock). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: DatabaseModule,
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
