import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderOpenApiYaml } from '../app/openapi-document';

/** npm run openapi — writes openapi.yaml from the controllers' decorators. */
renderOpenApiYaml()
  .then((yaml) => {
    const file = join(__dirname, '..', '..', '..', 'openapi.yaml');
    writeFileSync(file, yaml);
    console.log(`Wrote ${file}`);
  })
  .catch((err) => {
    console.error(`openapi generation failed: ${(err as Error).stack}`);
    process.exit(1);
  });
