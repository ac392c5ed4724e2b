/** The parts of an OpenAPI 3 document the route fuzzer reads (what @nestjs/swagger emits at /docs-json). */
export interface OpenApiSchema {
  readonly type?: string;
  readonly format?: string;
  readonly enum?: readonly unknown[];
  readonly example?: unknown;
  readonly properties?: Readonly<Record<string, OpenApiSchema>>;
  readonly required?: readonly string[];
  readonly items?: OpenApiSchema;
  readonly allOf?: readonly OpenApiSchema[];
  readonly $ref?: string;
}

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: OpenApiSchema;
}

export interface OpenApiOperation {
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly content: Readonly<Record<string, { readonly schema?: OpenApiSchema }>> };
  readonly security?: readonly Record<string, readonly string[]>[];
}

export interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
  readonly components?: { readonly schemas?: Readonly<Record<string, OpenApiSchema>> };
}

export interface Operation {
  readonly method: string;
  /** The templated path, e.g. /v1/nodes/{id} */
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly queryParams: readonly OpenApiParameter[];
  /** The request body's media type and (resolved) schema, when the operation takes one. */
  readonly body?: { readonly mediaType: string; readonly schema: OpenApiSchema };
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Every operation of the document, with `$ref`s and `allOf`s in body schemas resolved. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const params = op.parameters ?? [];
      const [mediaType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query'),
        body: mediaType ? { mediaType, schema: resolve(doc, media?.schema ?? {}) } : undefined,
      });
    }
  }
  return operations;
}

/** Follows `$ref` and merges `allOf`, shallowly then for each property (enough for Nest's output). */
export function resolve(doc: OpenApiDocument, schema: OpenApiSchema, depth = 0): OpenApiSchema {
  if (depth > 10) return {};
  let current = schema;
  if (current.$ref) {
    const name = current.$ref.split('/').at(-1) ?? '';
    current = { ...(doc.components?.schemas?.[name] ?? {}), ...withoutRef(current) };
  }
  for (const part of current.allOf ?? []) current = { ...resolve(doc, part, depth + 1), ...current, allOf: undefined };
  if (!current.properties) return current;
  const properties: Record<string, OpenApiSchema> = {};
  for (const [name, property] of Object.entries(current.properties)) properties[name] = resolve(doc, property, depth + 1);
  return { ...current, properties };
}

function withoutRef(schema: OpenApiSchema): OpenApiSchema {
  return { ...schema, $ref: undefined };
}

/** A plausible value for a schema: its example, its first enum value, or a small value of its type. */
export function sampleOf(schema: OpenApiSchema): unknown {
  if (schema.example !== undefined) return schema.example;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  switch (schema.type) {
    case 'string':
      return 'fuzz';
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return schema.items ? [sampleOf(schema.items)] : [];
    default: {
      const value: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) value[name] = sampleOf(property);
      return value;
    }
  }
}
