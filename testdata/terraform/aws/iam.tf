# Policies as a heredoc, through jsonencode, and as a policy document.

resource "aws_iam_policy" "admin" {
  name   = "admin"
  policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Allow",
    "Action": "*",
    "Resource": "*"
  }
}
EOF
}

resource "aws_iam_role_policy" "deploy" {
  name = "deploy"
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["arn:aws:s3:::example-artifacts/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["*"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_user_policy" "deny_all" {
  name = "deny-all"
  user = aws_iam_user.contractor.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Deny", Action = "*", Resource = "*" }]
  })
}

data "aws_iam_policy_document" "ops" {
  statement {
    actions   = ["ec2:Describe*"]
    resources = ["*"]
  }

  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}
