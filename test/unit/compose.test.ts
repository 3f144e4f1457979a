import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { GATEWAY_SETTINGS, SERVICES, maxConnections } from '../../scripts/stack/topology';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
}

/** docker-compose.yml is the container-shaped copy of `npm run stack`: same services, images and settings. */
describe('docker-compose.yml against the stack topology', () => {
  const compose = parse(readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };

  it('names the same services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(Object.keys(SERVICES).sort());
  });

  it('runs the same images, and our own services with the same commands and process counts', () => {
    for (const [name, shape] of Object.entries(SERVICES)) {
      const service = compose.services[name]!;
      if (shape.image) expect({ name, image: service.image }).toEqual({ name, image: shape.image });
      else expect({ name, build: service.build }).toEqual({ name, build: '.' });
      if (shape.command) expect({ name, command: service.command }).toEqual({ name, command: shape.command });
      expect({ name, replicas: service.deploy?.replicas ?? 1 }).toEqual({ name, replicas: shape.replicas ?? 1 });
    }
  });

  it('gives the API and every worker the same gateway settings the stack gives its processes', () => {
    for (const name of ['api', 'worker']) {
      const environment = compose.services[name]!.environment ?? {};
      for (const [setting, value] of Object.entries(GATEWAY_SETTINGS)) {
        expect({ name, setting, present: setting in environment }).toEqual({ name, setting, present: true });
        if (value !== null) expect({ name, setting, value: String(environment[setting]) }).toEqual({ name, setting, value });
      }
      for (const [setting, value] of Object.entries(SERVICES[name]!.settings ?? {})) {
        expect({ name, setting, value: String(environment[setting]) }).toEqual({ name, setting, value });
      }
    }
  });

  it("gives PostgreSQL the max_connections the stack computes for the compose file's API processes and workers", () => {
    const apiProcesses = Number(compose.services.api!.environment!.API_PROCESSES) * (compose.services.api!.deploy?.replicas ?? 1);
    const workers = compose.services.worker!.deploy?.replicas ?? 1;
    expect(compose.services.postgres!.command).toEqual(['postgres', '-c', `max_connections=${maxConnections(apiProcesses, workers)}`]);
  });

  it('points the gateway at the bucket the S3 service creates, with the keys the S3 service is given', () => {
    const gateway = compose.services.api!.environment!;
    const s3 = compose.services.s3!;
    expect(String(s3.command)).toContain(`/data/buckets/${GATEWAY_SETTINGS.S3_BUCKET}`);
    expect(s3.environment!.ROOT_ACCESS_KEY_ID).toBe(gateway.S3_ACCESS_KEY_ID);
    expect(s3.environment!.ROOT_SECRET_ACCESS_KEY).toBe(gateway.S3_SECRET_ACCESS_KEY);
    expect(gateway.S3_ENDPOINT).toBe('http://s3:7070');
  });
});
