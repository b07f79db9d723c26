import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';

/** The dashboard page (api role): static assets only; its data comes from the public report API. */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
