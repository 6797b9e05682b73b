"""Infrastructure of this service, one module per phase of the production guide.

1. identity   - GitHub OIDC and the split IAM roles (bootstrap / security first)
2. state      - where the state lives: CloudFormation and the CDK bootstrap stack
3. network    - VPC, subnets, NAT gateways, flow logs and the security-group chain
4. datastore  - RDS PostgreSQL and ElastiCache Redis
   compute    - ECS Fargate behind the load balancer
5. CI/CD      - .github/workflows, which deploy the stacks in this order
"""
