import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { IsCanonicalUuid } from '../../../common/dto/validators';
import { InvalidAs } from '../../../common/dto-validation.pipe';

/** A data subject: exactly one of a user id (as the client sent it) or a session id. */
@InvalidAs('invalid-subject', 'Invalid subject', '{user_id} or {session_id}')
export class SubjectDto {
  @ApiPropertyOptional({
    example: 'u_4821',
    maxLength: 256,
    description:
      'The user id as the client sent it (an e-mail or a pseudonymous id); it is found however it was stored, pseudonymized or not',
  })
  @IsOptional()
  @IsString({ message: 'user_id must be a string' })
  @Length(1, 256, { message: 'user_id must be 1 to 256 characters' })
  user_id?: string;

  @ApiPropertyOptional({ format: 'uuid', example: '9a7b1c3d-2e4f-4a6b-8c0d-1e2f3a4b5c6d' })
  @IsOptional()
  @IsCanonicalUuid({ message: 'session_id must be a UUID' })
  session_id?: string;
}

export class ErasureAcceptedDto {
  @ApiProperty({ format: 'uuid', example: '6f1c2b9e-3d4a-4e5f-8a6b-7c8d9e0f1a2b' }) request_id!: string;
  @ApiProperty({ enum: ['pending', 'completed'], example: 'pending' }) status!: string;
  @ApiProperty({ example: '/api/v1/analytics/subjects/erasure/6f1c2b9e-3d4a-4e5f-8a6b-7c8d9e0f1a2b' })
  status_url!: string;
}

export class ErasureStatusDto {
  @ApiProperty({ format: 'uuid', example: '6f1c2b9e-3d4a-4e5f-8a6b-7c8d9e0f1a2b' }) id!: string;
  @ApiProperty({ enum: ['user', 'session'], example: 'user' }) subject_type!: 'user' | 'session';
  @ApiProperty({ enum: ['pending', 'completed'], example: 'completed' }) status!: 'pending' | 'completed';
  @ApiProperty({ format: 'date-time', example: '2025-01-15T10:30:00.000Z' }) requested_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2025-01-15T10:30:01.200Z' })
  completed_at!: string | null;
  @ApiProperty({ type: Number, nullable: true, example: 42, description: 'Rows deleted; null while pending' })
  rows_deleted!: number | null;
}
