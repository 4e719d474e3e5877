/**
 * The HTTP contract between registry and client: every route's params, query, body and responses.
 * The server hands these schemas to fastify (validation, serialization, OpenAPI at /docs); the
 * client checks responses against the same schemas. Bodies that stream (manifests, tar packs,
 * large blobs, NDJSON entry lists) are described by content type; their lines are core's formats.
 */
import { Type, type Static } from "typebox";
import { MAX_DIGESTS_PER_CALL } from "./api-constants.js";
import { ERROR_CATALOG, type ErrorCode } from "./errors.js";

export { CONTENT_TYPES, MAX_DIGESTS_PER_CALL } from "./api-constants.js";

const PART = "^[a-z0-9][a-z0-9._-]{0,63}$";
const TAG = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
const DIGEST = "^blake3:[0-9a-f]{64}$";

export const DigestSchema = Type.String({ pattern: DIGEST, description: "blake3: + 64 lowercase hex digits" });
export const TagSchema = Type.String({ pattern: TAG });
export const JsonObjectSchema = Type.Record(Type.String(), Type.Unknown());

export const PackageParams = Type.Object({
  namespace: Type.String({ pattern: PART }),
  name: Type.String({ pattern: PART }),
});
export const RevisionParams = Type.Object({
  namespace: Type.String({ pattern: PART }),
  name: Type.String({ pattern: PART }),
  digest: DigestSchema,
});
export const TagParams = Type.Object({
  namespace: Type.String({ pattern: PART }),
  name: Type.String({ pattern: PART }),
  tag: TagSchema,
});
export const RefParams = Type.Object({
  namespace: Type.String({ pattern: PART }),
  name: Type.String({ pattern: PART }),
  ref: Type.String({ minLength: 1, maxLength: 200, description: "a tag, or blake3:HEX with 8+ hex digits" }),
});

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Unsafe<ErrorCode>(Type.String({ enum: Object.keys(ERROR_CATALOG) })),
  error: Type.String(),
  message: Type.String(),
  hint: Type.String(),
  details: Type.Optional(JsonObjectSchema),
  requestId: Type.Optional(Type.String()),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const HealthResponse = Type.Object({
  status: Type.Literal("ok"),
  version: Type.String(),
  blobStore: Type.String(),
});
export type HealthResponse = Static<typeof HealthResponse>;

export const DigestBatch = Type.Object(
  { digests: Type.Array(DigestSchema, { maxItems: MAX_DIGESTS_PER_CALL }) },
  { additionalProperties: false },
);
export type DigestBatch = Static<typeof DigestBatch>;

/** Which digests the registry lacks for this package (it answers per namespace: see DESIGN, access). */
export const MissingResponse = Type.Object({ missing: Type.Array(DigestSchema) });
export type MissingResponse = Static<typeof MissingResponse>;

export const StoredBlob = Type.Object({ digest: DigestSchema, size: Type.Integer({ minimum: 0 }) });
export const UploadResponse = Type.Object({
  stored: Type.Array(StoredBlob),
  /** Bytes actually written to the store (blobs the registry already had are not written again). */
  bytesWritten: Type.Integer({ minimum: 0 }),
});
export type UploadResponse = Static<typeof UploadResponse>;

export const CommitQuery = Type.Object(
  {
    /** The manifest's top hash, computed by the client; the registry refuses a body that hashes otherwise. */
    digest: DigestSchema,
    message: Type.Optional(Type.String({ maxLength: 10_000 })),
    tag: Type.Optional(Type.Union([TagSchema, Type.Array(TagSchema, { maxItems: 32 })])),
    expectParent: Type.Optional(Type.Union([DigestSchema, Type.Literal("none")])),
    noLatest: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CommitQuery = Static<typeof CommitQuery>;

/** A manifest staged ahead of its commit: checked against its digest, indexed, stored, not yet visible. */
export const StageResponse = Type.Object({
  digest: DigestSchema,
  entryCount: Type.Integer({ minimum: 0 }),
  totalSize: Type.Integer({ minimum: 0 }),
});
export type StageResponse = Static<typeof StageResponse>;

export const Revision = Type.Object({
  digest: DigestSchema,
  parent: Type.Union([DigestSchema, Type.Null()]),
  message: Type.String(),
  author: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  entryCount: Type.Integer({ minimum: 0 }),
  totalSize: Type.Integer({ minimum: 0 }),
});
export type Revision = Static<typeof Revision>;

export const CommitResponse = Type.Object({
  revision: Revision,
  /** True when the content equals the current latest: nothing new was recorded. */
  unchanged: Type.Boolean(),
  tags: Type.Array(TagSchema),
});
export type CommitResponse = Static<typeof CommitResponse>;

export const PackageInfo = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  meta: JsonObjectSchema,
  latest: Type.Union([Revision, Type.Null()]),
  tags: Type.Record(Type.String(), DigestSchema),
  public: Type.Boolean(),
});
export type PackageInfo = Static<typeof PackageInfo>;

export const LogQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  before: Type.Optional(Type.String({ format: "date-time" })),
});
export const LogResponse = Type.Object({ revisions: Type.Array(Revision) });
export type LogResponse = Static<typeof LogResponse>;

export const ResolveResponse = Type.Object({ digest: DigestSchema, ref: Type.String() });
export type ResolveResponse = Static<typeof ResolveResponse>;

export const TagMove = Type.Object({
  tag: TagSchema,
  from: Type.Union([DigestSchema, Type.Null()]),
  to: Type.Union([DigestSchema, Type.Null()]),
  by: Type.String(),
  at: Type.String({ format: "date-time" }),
});
export type TagMove = Static<typeof TagMove>;

export const TagsResponse = Type.Object({ tags: Type.Record(Type.String(), DigestSchema) });
export const TagHistoryResponse = Type.Object({ moves: Type.Array(TagMove) });
export const SetTagBody = Type.Object({ target: DigestSchema }, { additionalProperties: false });
export type SetTagBody = Static<typeof SetTagBody>;

export const EntriesQuery = Type.Object({
  where: Type.Optional(Type.String({ maxLength: 65_536 })),
  path: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 256 })])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  after: Type.Optional(Type.String({ description: "return entries whose path sorts after this one" })),
});
export type EntriesQuery = Static<typeof EntriesQuery>;

/**
 * Where bytes can be read: one URL and one byte range holding one or more whole blobs back to back
 * (adjacent blobs of a pack are merged so a client needs few requests). The URL is presigned (S3)
 * or signed by the registry (folder store) for exactly that range: send `Range: bytes=start-(end-1)`.
 */
export const LocationGroup = Type.Object({
  url: Type.String(),
  /** Inclusive start and exclusive end of the range within the object at `url`. */
  start: Type.Integer({ minimum: 0 }),
  end: Type.Integer({ minimum: 0 }),
  /** True when `url` points at the registry itself rather than at the object store. */
  viaRegistry: Type.Boolean(),
  /** The blobs in the range, in order; `offset` is relative to `start`. */
  blobs: Type.Array(Type.Object({ digest: DigestSchema, size: Type.Integer({ minimum: 0 }), offset: Type.Integer({ minimum: 0 }) })),
});
export type LocationGroup = Static<typeof LocationGroup>;
export const LocationsResponse = Type.Object({
  groups: Type.Array(LocationGroup),
  /** Requested digests this package does not reference (or that are not stored). */
  unknown: Type.Array(DigestSchema),
});
export type LocationsResponse = Static<typeof LocationsResponse>;

export const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 500 }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
});
export const SearchHit = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  matchedPaths: Type.Array(Type.String()),
  score: Type.Number(),
});
export const SearchResponse = Type.Object({ hits: Type.Array(SearchHit) });
export type SearchResponse = Static<typeof SearchResponse>;

export const Scope = Type.Union([
  Type.Object({ kind: Type.Literal("admin") }),
  Type.Object({
    kind: Type.Union([Type.Literal("read"), Type.Literal("write")]),
    pattern: Type.String({
      pattern: "^(\\*|[a-z0-9*][a-z0-9._*-]{0,63})$",
      description: "namespace or glob: mypkg, lab-*, *",
    }),
  }),
]);
export type Scope = Static<typeof Scope>;

export const CreateTokenBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), scopes: Type.Array(Scope, { minItems: 1, maxItems: 64 }) },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;
export const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Scope),
  createdAt: Type.String({ format: "date-time" }),
  lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});
export type TokenInfo = Static<typeof TokenInfo>;
/** The secret is shown once, at creation; the registry keeps only its hash. */
export const CreateTokenResponse = Type.Object({ token: Type.String(), info: TokenInfo });
export type CreateTokenResponse = Static<typeof CreateTokenResponse>;
export const TokenListResponse = Type.Object({ tokens: Type.Array(TokenInfo) });
export const WhoamiResponse = Type.Object({ name: Type.String(), scopes: Type.Array(Scope) });
export type WhoamiResponse = Static<typeof WhoamiResponse>;
