export { Account } from './account.entity';
export { ApiKey } from './api-key.entity';
export { Model, type Pricing, type PriceTiers } from './model.entity';
export { Channel } from './channel.entity';
export { Task, type TaskError, type TaskAttempt } from './task.entity';
export { Asset } from './asset.entity';
export { UsageRecord } from './usage-record.entity';
export { WebhookDelivery } from './webhook-delivery.entity';

import { Account } from './account.entity';
import { ApiKey } from './api-key.entity';
import { Model } from './model.entity';
import { Channel } from './channel.entity';
import { Task } from './task.entity';
import { Asset } from './asset.entity';
import { UsageRecord } from './usage-record.entity';
import { WebhookDelivery } from './webhook-delivery.entity';

/** Every entity, for the ORM's configuration. */
export const allEntities = [Account, ApiKey, Model, Channel, Task, Asset, UsageRecord, WebhookDelivery];
