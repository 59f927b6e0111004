import { createHash } from "node:crypto";
import type { CodegenConfig } from "@graphql-codegen/cli";
import type { Types } from "@graphql-codegen/plugin-helpers";
import { addTypenameToDocument } from "@apollo/client/utilities";

/**
 * The documents as Apollo Client sends them: it adds `__typename` to every selection set but the
 * operation's root, so the persisted documents (and their hashes) must have them too.
 */
const apolloTypenames: Types.DocumentTransformObject = {
  transform: ({ documents }) =>
    documents.map((source) => ({
      ...source,
      document: source.document ? addTypenameToDocument(source.document) : undefined,
    })),
};

// Operation types come from the committed API contract; nothing is written by hand.
const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: true,
  silent: true,
  generates: {
    "src/gql/": {
      preset: "client",
      // Apollo Client 4 has its own data masking; the colocated fragments give the types.
      // `persistedDocuments` writes src/gql/persisted-documents.json ({sha256 hex: document}):
      // the trusted documents the API loads (see README "Persisted queries"). The hash is of the
      // normalised document text that src/apollo.ts hashes and sends too.
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: {
          hashAlgorithm: (document: string) => createHash("sha256").update(document).digest("hex"),
        },
      },
      documentTransforms: [apolloTypenames],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: "string" },
        skipTypename: false,
        nonOptionalTypename: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
