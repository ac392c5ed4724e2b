import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/principal.js';
import { ApiDoc, ApiProblems } from '../common/openapi.js';
import { BrokerHookGuard } from './broker-hook.guard.js';
import { BrokerHooksService } from './broker-hooks.service.js';
import { BrokerAuthenticateAnswerDto, BrokerAuthenticateDto, BrokerAuthorizeAnswerDto, BrokerAuthorizeDto } from './dto/broker-hooks.dto.js';

/** Called by a broker with HTTP auth hooks (EMQX) instead of Mosquitto's dynamic security. */
@ApiTags('broker')
@ApiBearerAuth()
@Public()
@UseGuards(BrokerHookGuard)
@Controller('v1/broker')
export class BrokerHooksController {
  constructor(private readonly hooks: BrokerHooksService) {}

  @Post('authenticate')
  @HttpCode(200)
  @ApiDoc('Broker hook: authenticate a client', 'For the broker only (bearer BROKER_HOOK_SECRET). A node connects with its id, its secret and the client id `node-<id>`; the answer carries its ACL. `ignore` for a username that is not this installation\'s.')
  @ApiOkResponse({ type: BrokerAuthenticateAnswerDto })
  @ApiProblems(400, 401, 404)
  authenticate(@Body() body: BrokerAuthenticateDto): Promise<BrokerAuthenticateAnswerDto> {
    return this.hooks.authenticate(body.username, body.password, body.clientid);
  }

  @Post('authorize')
  @HttpCode(200)
  @ApiDoc('Broker hook: authorize a publish or subscribe', 'For the broker only (bearer BROKER_HOOK_SECRET), for brokers that ask per action instead of taking the ACL from the authentication answer.')
  @ApiOkResponse({ type: BrokerAuthorizeAnswerDto })
  @ApiProblems(400, 401, 404)
  async authorize(@Body() body: BrokerAuthorizeDto): Promise<BrokerAuthorizeAnswerDto> {
    return { result: await this.hooks.authorize(body.username, body.clientid, body.action, body.topic) };
  }
}
