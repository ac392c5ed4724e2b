import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Request } from 'express';
import { ValidationError } from '#common';
import { parseManifestEnvelope, TrustError } from '#trust';
import { ArtifactStore, type IngestedBlob } from '../artifacts/artifact-store.js';
import { receiveUpload } from '../artifacts/multipart-upload.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { jsonShapeViolation } from '../common/request-guards.js';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import { toValidationError } from '../common/validation.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  CreateModelDto,
  DeleteVersionQuery,
  ModelDto,
  ModelVersionDto,
  ReleaseVersionDto,
  UploadVersionBodyDto,
  UploadVersionFieldsDto,
  JSON_UPLOAD_FIELDS,
} from './dto/model.dto.js';
import type { CheckedSelfTest } from './artifact-check.js';
import { ArtifactChecker } from './artifact-checker.js';
import type { Model } from './model.entity.js';
import { ModelsService, type NewModelVersion } from './models.service.js';
import { parseReferenceStats } from './reference-stats.js';

@ApiTags('models')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly models: ModelsService,
    private readonly store: ArtifactStore,
    private readonly checker: ArtifactChecker,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @ApiDoc('Create a model', 'A model is a name, a task and the input and output shapes every one of its versions must take and give. Versions are uploaded to it with POST /v1/models/{name}/versions.')
  @ApiCreatedResponse({ type: ModelDto })
  @ApiWrite(409)
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateModelDto): Promise<ModelDto> {
    return ModelDto.from(await this.models.create(by, body));
  }

  @Get()
  @ApiDoc('List models', 'Every model, by name.')
  @ApiOkResponse({ type: [ModelDto] })
  @ApiRead()
  async list(): Promise<ModelDto[]> {
    return (await this.models.list()).map((m) => ModelDto.from(m));
  }

  @Get(':name')
  @ApiDoc('Get a model', 'The model and its declared input and output specs.')
  @ApiOkResponse({ type: ModelDto })
  @ApiRead(404)
  async get(@Param('name') name: string): Promise<ModelDto> {
    return ModelDto.from(await this.models.get(name));
  }

  @Get(':name/versions')
  @ApiDoc("List a model's versions", 'Every version and variant, with its artifact digest, size and signed manifest.')
  @ApiOkResponse({ type: [ModelVersionDto] })
  @ApiRead(404)
  async versions(@Param('name') name: string): Promise<ModelVersionDto[]> {
    return (await this.models.listVersions(name)).map((v) => ModelVersionDto.from(v, name));
  }

  @Get(':name/versions/:version')
  @ApiDoc('Get one version (all its variants)', 'The variants of one semver version of the model; an empty list when there is none.')
  @ApiOkResponse({ type: [ModelVersionDto] })
  @ApiRead(404)
  async version(@Param('name') name: string, @Param('version') version: string): Promise<ModelVersionDto[]> {
    return (await this.models.listVersions(name, version)).map((v) => ModelVersionDto.from(v, name));
  }

  /** multipart/form-data: the text fields of UploadVersionFieldsDto and one file part `artifact`. */
  @Post(':name/versions')
  @ApiDoc(
    'Upload a model version',
    'multipart/form-data: the fields below and one file part `artifact` (streamed; at most ARTIFACT_MAX_BYTES). The artifact is loaded with its engine and run once on the self-test input before anything is signed: 422 when it does not load, does not take the declared input or gives other outputs; the expected output is computed when absent. The answer is the signed version.',
  )
  @ApiCreatedResponse({ type: ModelVersionDto })
  @ApiWrite(404, 409, 413, 422)
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadVersionBodyDto })
  async upload(@CurrentPrincipal() by: Principal, @Param('name') name: string, @Req() req: Request): Promise<ModelVersionDto> {
    const model = await this.models.get(name); // fail fast, before reading the body
    const { fields, blob } = await receiveUpload(req, this.store, 'artifact', this.config.artifacts.maxBytes);
    let version: NewModelVersion;
    try {
      const dto = plainToInstance(UploadVersionFieldsDto, decodeJsonFields(fields));
      const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
      if (errors.length > 0) throw toValidationError(errors);
      const { referenceStats, ...fieldsWithoutStats } = dto;
      const stats = referenceStats === undefined ? undefined : parseReferenceStats(referenceStats);
      const selfTest = await this.check(model, dto, blob);
      version = { ...fieldsWithoutStats, selfTest, ...(stats ? { referenceStats: stats } : {}) };
    } catch (error) {
      await this.store.discard(blob);
      throw error;
    }
    return ModelVersionDto.from(await this.models.addVersion(by, name, version, blob), name);
  }

  /**
   * Nothing is signed that its engine cannot load and run as the model declares. The engine loads a file:
   * the `s3` store downloads the staged upload to a temporary one (at most the upload's size), removed after.
   */
  private async check(model: Model, fields: UploadVersionFieldsDto, blob: IngestedBlob): Promise<CheckedSelfTest | undefined> {
    const local = await this.store.localFile(blob);
    try {
      return await this.checker.check(model, { ...fields, path: local.path });
    } finally {
      await local.release();
    }
  }

  /** Publisher-signed releases: attaches the publishers' release signatures; the version becomes deployable. */
  @Post(':name/versions/:id/release')
  @HttpCode(200)
  @ApiDoc(
    'Release a publisher-signed version',
    'Publisher-signed releases: attaches the manifest as its publishers signed it (`keys sign-release`): the uploaded manifest with their sequence and lifetime, signed by the release threshold. The version becomes deployable; 422 when the signatures do not verify under the current root.',
  )
  @ApiOkResponse({ type: ModelVersionDto })
  @ApiWrite(404, 409, 422)
  async release(@CurrentPrincipal() by: Principal, @Param('name') name: string, @Param('id', ParseUUIDPipe) id: string, @Body() body: ReleaseVersionDto): Promise<ModelVersionDto> {
    let envelope;
    try {
      envelope = parseManifestEnvelope(body.manifest);
    } catch (error) {
      if (!(error instanceof TrustError)) throw error;
      throw new ValidationError(error.message, [{ field: 'manifest', message: 'a signed model manifest {signed, signatures}' }], { cause: error });
    }
    return ModelVersionDto.from(await this.models.release(by, name, id, envelope), name);
  }

  @Delete(':name/versions/:version')
  @HttpCode(204)
  @ApiDoc('Delete a version', 'Deletes the version (or one `variant` of it). 409 while a node runs it, an unfinished rollout names it, or it has deployment history.')
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiWrite(404, 409)
  async remove(
    @CurrentPrincipal() by: Principal,
    @Param('name') name: string,
    @Param('version') version: string,
    @Query() q: DeleteVersionQuery,
  ): Promise<void> {
    await this.models.deleteVersion(by, name, version, q.variant);
  }
}

/**
 * JSON-encoded multipart fields become values; an undecodable one is left as its string so validation
 * names it. Decoded values get the same depth and NUL bound as JSON bodies (see request-guards).
 */
function decodeJsonFields(fields: Record<string, string>): Record<string, unknown> {
  const decoded: Record<string, unknown> = { ...fields };
  for (const name of JSON_UPLOAD_FIELDS) {
    const raw = fields[name];
    if (raw === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      decoded[name] = raw;
      continue;
    }
    const violation = jsonShapeViolation(value);
    if (violation) throw new ValidationError(`field '${name}': ${violation}`, [{ field: name, message: violation }]);
    decoded[name] = value;
  }
  return decoded;
}
