import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiProblems } from '../common/openapi.js';
import { API_ROLES, type ApiRole } from './api-key.entity.js';
import { CurrentPrincipal, type Principal } from './principal.js';

export class PrincipalDto {
  @ApiProperty({ example: 'api-key:0b5c…', description: 'Recorded as the actor of this key’s mutations' }) actor!: string;
  @ApiProperty({ enum: API_ROLES, description: 'viewer < operator < admin' }) role!: ApiRole;
}

/** Lets a client (the console, the CLI's login) check a key and learn its role without side effects. */
@ApiTags('auth')
@ApiBearerAuth()
@Controller('v1/whoami')
export class WhoamiController {
  @Get()
  @ApiDoc('Who am I', 'Any valid key (viewer and up). The actor and role of the calling API key: the console hides what the role cannot do (the API refuses it anyway).')
  @ApiOkResponse({ type: PrincipalDto })
  @ApiProblems(401)
  whoami(@CurrentPrincipal() principal: Principal): PrincipalDto {
    return { actor: principal.actor, role: principal.role };
  }
}
