import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead } from '../common/openapi.js';
import { DriftQuery, VersionDriftDto } from './dto/drift.dto.js';
import { DriftService } from './drift.service.js';

@ApiTags('model health')
@ApiBearerAuth()
@Controller('v1')
export class DriftController {
  constructor(private readonly drift: DriftService) {}

  @Get('models/:name/versions/:version/drift')
  @ApiDoc(
    'How far live traffic has drifted from a version\'s training data',
    'Each node\'s latest drift score for the version in the window (PSI of its recent inputs and top-class confidences against the reference statistics signed into the manifest), highest first, with the mean and the maximum. Versions uploaded without referenceStats have none. See docs/drift.md.',
  )
  @ApiOkResponse({ type: VersionDriftDto })
  @ApiRead(404)
  async versionDrift(@Param('name') name: string, @Param('version') version: string, @Query() query: DriftQuery): Promise<VersionDriftDto> {
    return this.drift.versionDrift(name, version, query);
  }
}
