//! Generated projects and tasks, shared by fixtures and scale data: names by
//! position, statuses, priorities, assignees and due dates from a seeded RNG.

use chrono::{DateTime, Duration, Utc};
use domain::project::Project;
use domain::task::{Task, TaskStatus};
use domain::values::{Description, DueDate, Priority, ProjectName, TaskTitle};
use domain::{ProjectId, TaskId, TenantId, UserId};
use rand::Rng;

pub(crate) struct Shape<'a> {
    pub projects: usize,
    pub tasks_per_project: usize,
    /// Rows are created this far apart, oldest first, from `start`.
    pub start: DateTime<Utc>,
    pub step: Duration,
    pub assignees: &'a [UserId],
    /// The share of tasks with an assignee.
    pub assigned: f64,
}

pub(crate) fn projects_and_tasks(
    rng: &mut impl Rng,
    tenant: TenantId,
    s: &Shape<'_>,
) -> (Vec<Project>, Vec<Task>) {
    let statuses = [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done];
    let mut projects = Vec::with_capacity(s.projects);
    let mut tasks = Vec::with_capacity(s.projects * s.tasks_per_project);
    for p in 0..s.projects {
        let at = s.start + s.step * p as i32;
        let project = Project {
            id: ProjectId::generate(),
            tenant_id: tenant,
            name: ProjectName::parse(&format!("Project {}", p + 1)).expect("valid"),
            description: Description::parse("").expect("valid"),
            created_at: at,
            updated_at: at,
            deleted_at: None,
            version: 1,
        };
        for k in 0..s.tasks_per_project {
            let at = s.start + s.step * (p * s.tasks_per_project + k) as i32;
            let assignee = (!s.assignees.is_empty() && rng.gen_bool(s.assigned))
                .then(|| s.assignees[rng.gen_range(0..s.assignees.len())]);
            tasks.push(Task {
                id: TaskId::generate(),
                tenant_id: tenant,
                project_id: project.id,
                title: TaskTitle::parse(&format!("Task {} of project {}", k + 1, p + 1))
                    .expect("valid"),
                description: Description::parse("").expect("valid"),
                status: statuses[rng.gen_range(0..statuses.len())],
                priority: Priority::parse(rng.gen_range(0..=4)).expect("valid"),
                assignee_id: assignee,
                due_date: rng.gen_bool(0.5).then(|| {
                    DueDate::new((s.start + Duration::days(rng.gen_range(1..120))).date_naive())
                        .expect("valid")
                }),
                created_at: at,
                updated_at: at,
                version: 1,
            });
        }
        projects.push(project);
    }
    (projects, tasks)
}
