"""Face-confirmed credit: credit lines, installment plans, loans and repayment schedules."""
