import { writeFile } from 'node:fs/promises'
import { OPENAPI_PATH, generateOpenApiDocument } from '../src/openapi-document.js'

// Regenerates the committed OpenAPI document; test/openapi.test.ts fails when it drifts.
await writeFile(OPENAPI_PATH, await generateOpenApiDocument())
process.stderr.write(`wrote ${OPENAPI_PATH}\n`)
